package rules

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Policy holds every configurable figure of the field rules for one
// jurisdiction and year. Values come from YAML files; see LoadPolicies.
type Policy struct {
	Visits    VisitPolicy     `yaml:"visits" json:"visits"`
	Residency ResidencyPolicy `yaml:"residency" json:"residency"`
	Checkin   CheckinPolicy   `yaml:"checkin" json:"checkin"`
	Caseload  CaseloadPolicy  `yaml:"caseload" json:"caseload"`
	Team      TeamPolicy      `yaml:"team" json:"team"`
	Income    IncomePolicy    `yaml:"income" json:"income"`
	// Exit, VillageExit, Review and Photos hold the figures of the exit
	// procedure, village exit, record review and photo age rules (exit.go,
	// villageexit.go, review.go; assets/findings for photos).
	Exit        ExitPolicy        `yaml:"exit" json:"exit"`
	VillageExit VillageExitPolicy `yaml:"village_exit" json:"village_exit"`
	Review      ReviewPolicy      `yaml:"review" json:"review"`
	Photos      PhotoPolicy       `yaml:"photos" json:"photos"`
	// FourOnes and FamilyDoctor hold the work team's "four ones" duties
	// [003] and the family-doctor visit cadence per package [000]
	// (duties.go).
	FourOnes     FourOnesPolicy     `yaml:"four_ones" json:"four_ones"`
	FamilyDoctor FamilyDoctorPolicy `yaml:"family_doctor" json:"family_doctor"`
	// TabletKeys holds the lease of the key share tablets need to read
	// personal fields and the wrong-PIN limit (policy_tabletkeys.go).
	TabletKeys TabletKeyPolicy `yaml:"tablet_keys" json:"tablet_keys"`
	// Sources names the files that were layered to make this policy, least
	// specific first, so a report can say which rules it applied.
	Sources []string `yaml:"-" json:"sources"`
}

// Cadence is a visit requirement: at least Min visits in every calendar
// window of unit Per.
type Cadence struct {
	Per Unit `yaml:"per" json:"per"`
	Min int  `yaml:"min" json:"min"`
}

// Label renders the cadence in Chinese, e.g. "每半年至少1次".
func (c Cadence) Label() string { return fmt.Sprintf("%s至少%d次", c.Per.Label(), c.Min) }

// VisitPolicy holds the home-visit cadence per household status.
type VisitPolicy struct {
	Exited      Cadence `yaml:"exited" json:"exited"`
	Poor        Cadence `yaml:"poor" json:"poor"`
	Monitored   Cadence `yaml:"monitored" json:"monitored"`
	FellBack    Cadence `yaml:"fellback" json:"fellback"`
	DueSoonDays int     `yaml:"due_soon_days" json:"due_soon_days"`
}

// For returns the cadence for a household status; ok is false for statuses
// that need no visits (removed households).
func (v VisitPolicy) For(s Status) (Cadence, bool) {
	switch s {
	case StatusExited:
		return v.Exited, true
	case StatusPoor:
		return v.Poor, true
	case StatusMonitored:
		return v.Monitored, true
	case StatusFellBack:
		return v.FellBack, true
	}
	return Cadence{}, false
}

// ResidencyPolicy holds the work-team residency requirement.
type ResidencyPolicy struct {
	DaysPerMonth     int      `yaml:"days_per_month" json:"days_per_month"`
	CountedDutyKinds []string `yaml:"counted_duty_kinds" json:"counted_duty_kinds"`
}

// Counts reports whether an approved duty day of this kind counts as a day
// in the village.
func (r ResidencyPolicy) Counts(kind string) bool {
	for _, k := range r.CountedDutyKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// CheckinPolicy holds the figures that decide whether a residency check-in
// is trusted.
type CheckinPolicy struct {
	GeofenceM            float64 `yaml:"geofence_m" json:"geofence_m"`
	MaxAccuracyM         float64 `yaml:"max_accuracy_m" json:"max_accuracy_m"`
	MaxClockAheadMinutes int     `yaml:"max_clock_ahead_minutes" json:"max_clock_ahead_minutes"`
	MaxUploadDelayHours  int     `yaml:"max_upload_delay_hours" json:"max_upload_delay_hours"`
	MaxTravelKmh         float64 `yaml:"max_travel_kmh" json:"max_travel_kmh"`
}

// CaseloadPolicy holds the officer caseload limit.
type CaseloadPolicy struct {
	MaxHouseholdsPerOfficer int `yaml:"max_households_per_officer" json:"max_households_per_officer"`
}

// TeamPolicy holds the work-team size requirement.
type TeamPolicy struct {
	MinMembers int `yaml:"min_members" json:"min_members"`
}

// IncomePolicy holds the income line and the start of the income year.
type IncomePolicy struct {
	LineYuan float64 `yaml:"line_yuan" json:"line_yuan"`
	// YearStarts is "MM-DD", the first day of an income year.
	YearStarts string `yaml:"year_starts" json:"year_starts"`
}

// IncomeYear returns the income year containing t under this policy.
func (p IncomePolicy) IncomeYear(t time.Time) Period {
	m, d, err := parseMonthDay(p.YearStarts)
	if err != nil { // unreachable for a loaded policy: validated at load
		m, d = time.October, 1
	}
	return IncomeYear(t, m, d)
}

// policyFile is one loaded file: the prefix and year it applies to and its
// YAML document, decoded onto the less specific layers on lookup.
type policyFile struct {
	name   string
	prefix string // "" for the default layer
	year   int    // 0 when the file applies to every year
	doc    []byte
	node   *yaml.Node // doc parsed once, decoded on every lookup
}

// PolicySet is every policy file known, shipped defaults included. It is
// immutable once loaded and safe for concurrent use.
type PolicySet struct {
	// baseline is the shipped default.yaml: every lookup starts from it, so
	// a folder's own default.yaml may set only some keys.
	baseline Policy
	// byPrefix holds, per prefix, its files sorted by year ascending.
	byPrefix map[string][]policyFile
	prefixes []string // sorted by length, then value
}

//go:embed policies/*.yaml
var shippedPolicies embed.FS

// DefaultPolicies returns the shipped policies alone.
func DefaultPolicies() (*PolicySet, error) { return LoadPolicies(nil) }

// LoadPolicyDir loads the policy files of a folder over the shipped
// defaults; see LoadPolicies.
func LoadPolicyDir(dir string) (*PolicySet, error) { return LoadPolicies(os.DirFS(dir)) }

// LoadPolicies reads every *.yaml file at the root of fsys (nil means none)
// and layers them over the shipped defaults.
//
// A file is named after what it applies to: "default.yaml" (every area),
// "<prefix>.yaml" where prefix is 2..12 digits of an area code ("34.yaml":
// Anhui province), optionally with a year, "<prefix>-<year>.yaml"
// ("3411-2020.yaml"), which applies from that year on. A file sets only the
// keys it names. For an area and year, one file per matching prefix is
// chosen (the one with the latest year not after the year asked; a
// year-less file counts as the earliest), and the chosen files are applied
// from the least to the most specific prefix, so the most specific prefix
// wins key by key. A file in fsys replaces a shipped file of the same
// prefix and year.
//
// Every file is checked on load: an unknown key, a value of the wrong type,
// a figure out of range or a bad file name fails with an error naming the
// file and the key, e.g. "policy 34.yaml: residency.days_per_month: must be
// ≥ 1".
func LoadPolicies(fsys fs.FS) (*PolicySet, error) {
	base, err := fs.ReadFile(shippedPolicies, "policies/default.yaml")
	if err != nil {
		return nil, fmt.Errorf("read shipped default policy: %w", err)
	}
	var baseline Policy
	if err := decodePolicy(base, &baseline); err != nil {
		return nil, fmt.Errorf("policy default.yaml (shipped): %w", err)
	}
	if err := baseline.validate(); err != nil {
		return nil, fmt.Errorf("policy default.yaml (shipped): %w", err)
	}
	files := map[[2]string]policyFile{}
	load := func(fsys fs.FS, dir, origin string) error {
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return fmt.Errorf("read policy folder: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
				continue
			}
			pf, err := parsePolicyFileName(name)
			if err != nil {
				return fmt.Errorf("policy %s%s: %w", name, origin, err)
			}
			pf.doc, err = fs.ReadFile(fsys, path.Join(dir, name))
			if err != nil {
				return fmt.Errorf("read policy %s: %w", name, err)
			}
			// Check the file on its own, laid over the shipped defaults: the
			// figures it sets must be valid whatever it is combined with.
			p := baseline
			p.Residency.CountedDutyKinds = append([]string(nil), baseline.Residency.CountedDutyKinds...)
			if err := decodePolicy(pf.doc, &p); err != nil {
				return fmt.Errorf("policy %s%s: %w", name, origin, err)
			}
			if err := p.validate(); err != nil {
				return fmt.Errorf("policy %s%s: %w", name, origin, err)
			}
			pf.node = new(yaml.Node)
			if err := yaml.Unmarshal(pf.doc, pf.node); err != nil {
				return fmt.Errorf("policy %s%s: not valid YAML: %w", name, origin, err)
			}
			files[[2]string{pf.prefix, strconv.Itoa(pf.year)}] = pf
		}
		return nil
	}
	if err := load(shippedPolicies, "policies", " (shipped)"); err != nil {
		return nil, err
	}
	if fsys != nil {
		if err := load(fsys, ".", ""); err != nil {
			return nil, err
		}
	}
	set := &PolicySet{baseline: baseline, byPrefix: map[string][]policyFile{}}
	for _, pf := range files {
		set.byPrefix[pf.prefix] = append(set.byPrefix[pf.prefix], pf)
	}
	for prefix, list := range set.byPrefix {
		sort.Slice(list, func(i, j int) bool { return list[i].year < list[j].year })
		set.prefixes = append(set.prefixes, prefix)
	}
	sort.Slice(set.prefixes, func(i, j int) bool {
		a, b := set.prefixes[i], set.prefixes[j]
		if len(a) != len(b) {
			return len(a) < len(b)
		}
		return a < b
	})
	if _, ok := set.byPrefix[""]; !ok || set.byPrefix[""][0].year != 0 {
		return nil, errors.New("policy set: no year-less default.yaml")
	}
	return set, nil
}

// For returns the policy for an area code (any length; a village's 12
// digits usually) and a year: the matching files layered from the least to
// the most specific prefix, each prefix at its nearest year not after year.
// Files were validated on load, so For cannot fail.
func (s *PolicySet) For(areaCode string, year int) Policy {
	p := s.baseline
	p.Residency.CountedDutyKinds = append([]string(nil), s.baseline.Residency.CountedDutyKinds...)
	p.Sources = nil
	for _, prefix := range s.prefixes {
		if !strings.HasPrefix(areaCode, prefix) {
			continue
		}
		list := s.byPrefix[prefix]
		chosen := -1
		for i, pf := range list {
			if pf.year <= year {
				chosen = i
			}
		}
		if chosen < 0 {
			continue
		}
		pf := list[chosen]
		if pf.node.Kind != 0 {
			// Checked on load; a decode error here cannot happen.
			_ = pf.node.Decode(&p)
		}
		p.Sources = append(p.Sources, pf.name)
	}
	return p
}

// parsePolicyFileName reads "default[-YYYY].yaml" or "<digits>[-YYYY].yaml".
func parsePolicyFileName(name string) (policyFile, error) {
	stem := strings.TrimSuffix(strings.TrimSuffix(name, ".yaml"), ".yml")
	pf := policyFile{name: name}
	prefix, yearText, hasYear := strings.Cut(stem, "-")
	if hasYear {
		y, err := strconv.Atoi(yearText)
		if err != nil || len(yearText) != 4 || y < 1900 || y > 2200 {
			return pf, fmt.Errorf("file name: year %q must be 1900..2200 (want <area-prefix>[-<year>].yaml)", yearText)
		}
		pf.year = y
	}
	if prefix == "default" {
		return pf, nil
	}
	if len(prefix) < 2 || len(prefix) > 12 || !allDigits(prefix) {
		return pf, fmt.Errorf("file name: area prefix %q must be 2..12 digits (want <area-prefix>[-<year>].yaml or default.yaml)", prefix)
	}
	pf.prefix = prefix
	return pf, nil
}

// decodePolicy checks a YAML document key by key (so errors name the key)
// and then decodes it onto p, leaving keys it does not set untouched.
func decodePolicy(doc []byte, p *Policy) error {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return fmt.Errorf("not valid YAML: %w", err)
	}
	if root.Kind == 0 { // empty file: sets nothing
		return nil
	}
	if err := checkNode(&root, reflect.TypeFor[Policy](), ""); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(p); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// checkNode walks a YAML node against the Go type it will be decoded into
// and reports the first unknown key or ill-typed value by its dotted path.
func checkNode(n *yaml.Node, t reflect.Type, at string) error {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return checkNode(n.Content[0], t, at)
	}
	if n.Kind == yaml.AliasNode {
		return fmt.Errorf("%s: aliases are not allowed in policy files", nameOr(at))
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return fmt.Errorf("%s: must have a value", nameOr(at))
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: must be a mapping of keys", nameOr(at))
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			keyPath := key
			if at != "" {
				keyPath = at + "." + key
			}
			if seen[key] {
				return fmt.Errorf("%s: key appears twice", keyPath)
			}
			seen[key] = true
			f, ok := fieldByYAMLName(t, key)
			if !ok {
				return fmt.Errorf("%s: unknown key", keyPath)
			}
			if err := checkNode(n.Content[i+1], f.Type, keyPath); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("%s: must be a list", nameOr(at))
		}
		for i, c := range n.Content {
			if err := checkNode(c, t.Elem(), fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("%s: must be %s", nameOr(at), typeWord(t))
	}
	if t.Kind() == reflect.String && n.Tag != "!!str" {
		return fmt.Errorf("%s: must be %s (quote it)", nameOr(at), typeWord(t))
	}
	if isIntKind(t.Kind()) && n.Tag != "!!int" {
		return fmt.Errorf("%s: must be %s, not %q", nameOr(at), typeWord(t), n.Value)
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		return fmt.Errorf("%s: must be %s, not %q", nameOr(at), typeWord(t), n.Value)
	}
	return nil
}

func isIntKind(k reflect.Kind) bool {
	return k == reflect.Int || k == reflect.Int64 || k == reflect.Int32
}

func nameOr(at string) string {
	if at == "" {
		return "document"
	}
	return at
}

func typeWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true or false"
	}
	return t.String()
}

func fieldByYAMLName(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" && name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// validate checks the figures of a complete policy, naming the first bad key.
func (p *Policy) validate() error {
	for _, c := range []struct {
		key string
		cad Cadence
	}{{"visits.exited", p.Visits.Exited}, {"visits.poor", p.Visits.Poor}, {"visits.monitored", p.Visits.Monitored}, {"visits.fellback", p.Visits.FellBack}} {
		if err := c.cad.validate(c.key); err != nil {
			return err
		}
	}
	type check struct {
		key  string
		ok   bool
		want string
	}
	checks := []check{
		{"visits.due_soon_days", p.Visits.DueSoonDays >= 0 && p.Visits.DueSoonDays <= 366, "must be 0..366"},
		{"residency.days_per_month", p.Residency.DaysPerMonth >= 1, "must be ≥ 1"},
		{"residency.days_per_month", p.Residency.DaysPerMonth <= 31, "must be ≤ 31"},
		{"checkin.geofence_m", p.Checkin.GeofenceM > 0, "must be > 0"},
		{"checkin.max_accuracy_m", p.Checkin.MaxAccuracyM > 0, "must be > 0"},
		{"checkin.max_clock_ahead_minutes", p.Checkin.MaxClockAheadMinutes >= 1, "must be ≥ 1"},
		{"checkin.max_upload_delay_hours", p.Checkin.MaxUploadDelayHours >= 0, "must be ≥ 0 (0 turns the check off)"},
		{"checkin.max_travel_kmh", p.Checkin.MaxTravelKmh > 0, "must be > 0"},
		{"caseload.max_households_per_officer", p.Caseload.MaxHouseholdsPerOfficer >= 1, "must be ≥ 1"},
		{"team.min_members", p.Team.MinMembers >= 1, "must be ≥ 1"},
		{"income.line_yuan", p.Income.LineYuan > 0, "must be > 0"},
		{"income.line_yuan", p.Income.LineYuan <= 1e9, "must be ≤ 1000000000"},
		{"exit.notice_days", p.Exit.NoticeDays >= 1 && p.Exit.NoticeDays <= 366, "must be 1..366"},
		{"exit.signoff_numerator", p.Exit.SignoffNumerator >= 1, "must be ≥ 1"},
		{"exit.signoff_denominator", p.Exit.SignoffDenominator >= p.Exit.SignoffNumerator, "must be ≥ exit.signoff_numerator"},
		{"exit.signoff_denominator", p.Exit.SignoffDenominator <= 1000, "must be ≤ 1000"},
		{"exit.school_age_from", p.Exit.SchoolAgeFrom >= 0 && p.Exit.SchoolAgeFrom <= p.Exit.SchoolAgeTo, "must be 0..exit.school_age_to"},
		{"exit.school_age_to", p.Exit.SchoolAgeTo <= 30, "must be ≤ 30"},
		{"village_exit.max_incidence_percent", p.VillageExit.MaxIncidencePercent > 0 && p.VillageExit.MaxIncidencePercent <= 100, "must be > 0 and ≤ 100"},
		{"village_exit.min_industries", p.VillageExit.MinIndustries >= 0, "must be ≥ 0"},
		{"village_exit.min_collective_income_yuan", p.VillageExit.MinCollectiveIncomeYuan >= 0 && p.VillageExit.MinCollectiveIncomeYuan <= 1e12, "must be 0..1000000000000"},
		{"photos.max_age_days", p.Photos.MaxAgeDays >= 0 && p.Photos.MaxAgeDays <= 3660, "must be 0..3660 (0 turns the check off)"},
		{"tablet_keys.lease_days", p.TabletKeys.LeaseDays >= 1 && p.TabletKeys.LeaseDays <= 90, "must be 1..90"},
		{"tablet_keys.max_pin_failures", p.TabletKeys.MaxPINFailures >= 3 && p.TabletKeys.MaxPINFailures <= 100, "must be 3..100"},
	}
	for _, c := range checks {
		if !c.ok {
			return fmt.Errorf("%s: %s", c.key, c.want)
		}
	}
	for i, k := range p.Residency.CountedDutyKinds {
		if strings.TrimSpace(k) == "" {
			return fmt.Errorf("residency.counted_duty_kinds[%d]: must not be empty", i)
		}
	}
	if _, _, err := parseMonthDay(p.Income.YearStarts); err != nil {
		return fmt.Errorf("income.year_starts: %w", err)
	}
	return p.validateDuties()
}

// parseMonthDay reads "MM-DD" and refuses days that do not exist in every
// year (Feb 29 included).
func parseMonthDay(s string) (time.Month, int, error) {
	ms, ds, ok := strings.Cut(s, "-")
	if !ok || len(ms) != 2 || len(ds) != 2 || !allDigits(ms) || !allDigits(ds) {
		return 0, 0, fmt.Errorf("must be MM-DD, not %q", s)
	}
	m, _ := strconv.Atoi(ms)
	d, _ := strconv.Atoi(ds)
	if m < 1 || m > 12 || d < 1 || d > DaysIn(2001, time.Month(m)) {
		return 0, 0, fmt.Errorf("%q is not a day of every year", s)
	}
	return time.Month(m), d, nil
}

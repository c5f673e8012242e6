package rules

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// DutyKind is one of the work team's "four ones" duties (四个一) [003].
// The values are stable codes.
type DutyKind string

// The "four ones": a scheduling meeting every two months, the work log
// and sign-in register reviewed every quarter, a review meeting every
// half-year and a policy quiz every month [003].
const (
	DutySchedulingMeeting DutyKind = "scheduling_meeting" // 工作调度会
	DutyLogReview         DutyKind = "log_review"         // 调阅工作日志和签到册
	DutyReviewMeeting     DutyKind = "review_meeting"     // 工作述职评议会
	DutyPolicyQuiz        DutyKind = "policy_quiz"        // 政策和业务知识现场抽测
)

// DutyKinds returns the four duties in the order of [003].
func DutyKinds() []DutyKind {
	return []DutyKind{DutySchedulingMeeting, DutyLogReview, DutyReviewMeeting, DutyPolicyQuiz}
}

// Title returns the duty in Chinese.
func (k DutyKind) Title() string {
	switch k {
	case DutySchedulingMeeting:
		return "工作调度会"
	case DutyLogReview:
		return "调阅工作日志和签到册"
	case DutyReviewMeeting:
		return "工作述职评议会"
	case DutyPolicyQuiz:
		return "政策和业务知识现场抽测"
	}
	return string(k)
}

// FourOnesPolicy holds the cadence of each "four ones" duty of village
// work teams [003]. The seed is one city's rule, so the shipped default
// leaves it off: a jurisdiction turns it on in its own policy file.
type FourOnesPolicy struct {
	Enabled           bool    `yaml:"enabled" json:"enabled"`
	SchedulingMeeting Cadence `yaml:"scheduling_meeting" json:"scheduling_meeting"`
	LogReview         Cadence `yaml:"log_review" json:"log_review"`
	ReviewMeeting     Cadence `yaml:"review_meeting" json:"review_meeting"`
	PolicyQuiz        Cadence `yaml:"policy_quiz" json:"policy_quiz"`
}

// For returns the cadence of a duty; ok is false for an unknown duty.
func (p FourOnesPolicy) For(k DutyKind) (Cadence, bool) {
	switch k {
	case DutySchedulingMeeting:
		return p.SchedulingMeeting, true
	case DutyLogReview:
		return p.LogReview, true
	case DutyReviewMeeting:
		return p.ReviewMeeting, true
	case DutyPolicyQuiz:
		return p.PolicyQuiz, true
	}
	return Cadence{}, false
}

// DoctorPackage is a family-doctor service package (签约服务包) and the
// visit cadence it promises: "根据签约服务包，每月或每季定期走访服务1次"
// [000].
type DoctorPackage struct {
	// Name is the stable code contracts cite; Title its Chinese name.
	Name    string  `yaml:"name" json:"name"`
	Title   string  `yaml:"title" json:"title"`
	Cadence Cadence `yaml:"cadence" json:"cadence"`
}

// FamilyDoctorPolicy holds the service packages of family-doctor
// contracts. A contract citing a package not listed is judged by the
// first package (the strictest should come first).
type FamilyDoctorPolicy struct {
	Packages []DoctorPackage `yaml:"packages" json:"packages"`
}

// Package returns the package of a name, the first package when the name
// is unknown; ok is false when the policy lists none.
func (p FamilyDoctorPolicy) Package(name string) (DoctorPackage, bool) {
	for _, pk := range p.Packages {
		if pk.Name == name {
			return pk, true
		}
	}
	if len(p.Packages) == 0 {
		return DoctorPackage{}, false
	}
	return p.Packages[0], true
}

// TeamDuty is one "four ones" duty done for a village work team: a
// meeting held, the log and register reviewed, a quiz taken.
type TeamDuty struct {
	ID          string
	VillageCode string
	Kind        DutyKind
	At          time.Time
}

// DoctorContract is a household's family-doctor contract (家庭医生签约):
// the package, and the dates it runs (To zero while it runs on).
type DoctorContract struct {
	HouseholdID string
	Package     string
	Doctor      string
	From, To    Date
}

// DoctorVisit is one visit of the household's family doctor.
type DoctorVisit struct {
	ID          string
	HouseholdID string
	Doctor      string
	At          time.Time
}

// Finding kinds of the "four ones" and the family-doctor cadence.
const (
	KindTeamDutyMissed     Kind = "team_duty_missed"
	KindDoctorVisitOverdue Kind = "doctor_visit_overdue"
)

// TeamDutyFinding is a village work team that did one of its "four ones"
// duties fewer times than required in one or more windows that ended.
type TeamDutyFinding struct {
	Kind        Kind     `json:"kind"`
	Area        string   `json:"area"`
	VillageName string   `json:"village_name"`
	Duty        DutyKind `json:"duty"`
	Required    Cadence  `json:"required"`
	// MissedWindows labels every window that ended short ("2026-03~04");
	// DueBy is the last day of the first, Done how often the duty was
	// done in it.
	MissedWindows []string `json:"missed_windows"`
	DueBy         Date     `json:"due_by"`
	Done          int      `json:"done"`
	// LastDone is the date of the latest time the duty was done before the
	// judging instant (zero if never).
	LastDone Date `json:"last_done"`
}

// DoctorFinding is a household with a family-doctor contract whose doctor
// visited fewer times than its package promises in one or more windows.
type DoctorFinding struct {
	Kind          Kind     `json:"kind"`
	Area          string   `json:"area"`
	HouseholdID   string   `json:"household_id"`
	HeadName      string   `json:"head_name"`
	Doctor        string   `json:"doctor"`
	Package       string   `json:"package"`
	Required      Cadence  `json:"required"`
	MissedWindows []string `json:"missed_windows"`
	DueBy         Date     `json:"due_by"`
	Visits        int      `json:"visits"`
	LastVisit     Date     `json:"last_visit"`
}

// FindingKind implements Finding.
func (f TeamDutyFinding) FindingKind() Kind { return f.Kind }

// FindingArea implements Finding.
func (f TeamDutyFinding) FindingArea() string { return f.Area }

// FindingKind implements Finding.
func (f DoctorFinding) FindingKind() Kind { return f.Kind }

// FindingArea implements Finding.
func (f DoctorFinding) FindingArea() string { return f.Area }

// missedWindows counts events (instants) in each window of the cadence
// that overlaps the period, started at or after from (zero: any), ended by
// judge and, when until is not zero, ended by until. It returns the labels
// of the windows with fewer than cad.Min events, the first of them, the
// count in it, and the latest event before judge (zero when none).
func missedWindows(events []time.Time, cad Cadence, period Period, judge, from, until time.Time) (labels []string, first Period, firstCount int, last time.Time) {
	for _, t := range events {
		if t.Before(judge) && t.After(last) {
			last = t
		}
	}
	for _, w := range period.Split(cad.Per) {
		if w.End.After(judge) || (!from.IsZero() && w.Start.Before(from)) || (!until.IsZero() && w.End.After(until)) {
			continue
		}
		n := 0
		for _, t := range events {
			if w.Contains(t) {
				n++
			}
		}
		if n >= cad.Min {
			continue
		}
		if labels == nil {
			first, firstCount = w, n
		}
		labels = append(labels, w.Label)
	}
	return labels, first, firstCount, last
}

// CheckTeamDuties judges the "four ones" of every village work team whose
// village's policy turns them on [003]: each duty must be done at least
// its cadence's number of times in every calendar window of its unit
// (two months, a quarter, a half-year, a month) that overlaps the period
// and ended by the judging instant (Input.AsOf, or the period's end). A
// duty counts in the window that holds its local time: one done at
// 23:59:59 on the window's last day counts there, one a second later in
// the next window. One finding per team and duty, listing every window
// missed.
func CheckTeamDuties(in *Input, policies *PolicySet, period Period) []TeamDutyFinding {
	judge := judgeAt(period, in.AsOf)
	pc := newPolicyCache(policies)
	names := make(map[string]string, len(in.Villages))
	for _, v := range in.Villages {
		names[v.Code] = v.Name
	}
	done := map[string]map[DutyKind][]time.Time{}
	for _, d := range in.TeamDuties {
		if done[d.VillageCode] == nil {
			done[d.VillageCode] = map[DutyKind][]time.Time{}
		}
		done[d.VillageCode][d.Kind] = append(done[d.VillageCode][d.Kind], d.At)
	}
	seen := map[string]bool{}
	var out []TeamDutyFinding
	for _, t := range in.Teams {
		if seen[t.VillageCode] {
			continue
		}
		seen[t.VillageCode] = true
		pol := pc.get(t.VillageCode, period.Year()).FourOnes
		if !pol.Enabled {
			continue
		}
		for _, k := range DutyKinds() {
			cad, _ := pol.For(k)
			labels, first, n, last := missedWindows(done[t.VillageCode][k], cad, period, judge, time.Time{}, time.Time{})
			if labels == nil {
				continue
			}
			f := TeamDutyFinding{Kind: KindTeamDutyMissed, Area: t.VillageCode, VillageName: names[t.VillageCode], Duty: k,
				Required: cad, MissedWindows: labels, DueBy: first.LastDay(), Done: n}
			if !last.IsZero() {
				f.LastDone = DateOf(last)
			}
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Area < out[j].Area })
	return out
}

// CheckDoctorVisits judges the family-doctor visit cadence [000]: a
// household under a contract must be visited by its doctor at least the
// package's number of times in every window of the package's unit that
// overlaps the period, lies wholly within the contract (from the first
// window starting on or after its first day to the last ending by its
// last day) and ended by the judging instant. Visits count in the window
// holding their local time. Households not in the input and removed
// households are not judged; a household with several contracts is judged
// per contract.
func CheckDoctorVisits(in *Input, policies *PolicySet, period Period) []DoctorFinding {
	return checkDoctorVisits(in, newIndex(in), policies, period)
}

func checkDoctorVisits(in *Input, ix *index, policies *PolicySet, period Period) []DoctorFinding {
	if len(in.DoctorContracts) == 0 {
		return nil
	}
	judge := judgeAt(period, in.AsOf)
	pc := newPolicyCache(policies)
	visits := map[string][]time.Time{}
	for _, v := range in.DoctorVisits {
		visits[v.HouseholdID] = append(visits[v.HouseholdID], v.At)
	}
	var out []DoctorFinding
	for _, c := range in.DoctorContracts {
		h := ix.householdOf(in, c.HouseholdID)
		if h == nil || statusAt(h, period.End) == StatusRemoved || c.From.IsZero() {
			continue
		}
		pk, ok := pc.get(h.Area, period.Year()).FamilyDoctor.Package(c.Package)
		if !ok {
			continue
		}
		var until time.Time
		if !c.To.IsZero() {
			until = c.To.AddDays(1).Start()
		}
		labels, first, n, last := missedWindows(visits[c.HouseholdID], pk.Cadence, period, judge, c.From.Start(), until)
		if labels == nil {
			continue
		}
		f := DoctorFinding{Kind: KindDoctorVisitOverdue, Area: h.Area, HouseholdID: h.ID, HeadName: h.HeadName, Doctor: c.Doctor,
			Package: pk.Title, Required: pk.Cadence, MissedWindows: labels, DueBy: first.LastDay(), Visits: n}
		if f.Package == "" {
			f.Package = pk.Name
		}
		if !last.IsZero() {
			f.LastVisit = DateOf(last)
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Area < out[j].Area })
	return out
}

// validateDuties checks the "four ones" and family-doctor figures.
func (p *Policy) validateDuties() error {
	for _, k := range DutyKinds() {
		cad, _ := p.FourOnes.For(k)
		if err := cad.validate("four_ones." + string(k)); err != nil {
			return err
		}
	}
	var names []string
	for i, pk := range p.FamilyDoctor.Packages {
		at := fmt.Sprintf("family_doctor.packages[%d]", i)
		if blank(pk.Name) {
			return fmt.Errorf("%s.name: must not be empty", at)
		}
		if slices.Contains(names, pk.Name) {
			return fmt.Errorf("%s.name: %q appears twice", at, pk.Name)
		}
		names = append(names, pk.Name)
		if err := pk.Cadence.validate(at + ".cadence"); err != nil {
			return err
		}
	}
	return nil
}

// validate checks a cadence named key.
func (c Cadence) validate(key string) error {
	if !c.Per.valid() {
		return fmt.Errorf("%s.per: must be one of month, two_months, quarter, half_year, year, not %q", key, c.Per)
	}
	if c.Min < 1 {
		return fmt.Errorf("%s.min: must be ≥ 1", key)
	}
	return nil
}

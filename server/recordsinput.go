package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/reports"
)

// Housing evidence gaps, as shown to county staff in the 缺少资料 column.
const (
	MissingBeforePhoto = "改造前照片"
	MissingAfterPhoto  = "竣工后照片"
	MissingAfterLater  = "竣工后照片须晚于改造前照片"
)

// ComplianceReport reads the records under an area-code prefix from the
// store in one read transaction and rolls the field rules up over them for
// the period, judged at asOf (see readReportInputFor and reports.Compliance).
// The rules then run outside the transaction. Housing evidence is judged
// with the default tolerances (see ComplianceReportWith).
func ComplianceReport(store Store, policies *rules.PolicySet, area string, period rules.Period, asOf time.Time) (*reports.Report, error) {
	return ComplianceReportWith(store, policies, EvidencePolicy{}, area, period, asOf)
}

// ComplianceReportWith is ComplianceReport with the evidence tolerances
// the server is configured with (Config.Evidence).
func ComplianceReportWith(store Store, policies *rules.PolicySet, evidence EvidencePolicy, area string, period rules.Period, asOf time.Time) (*reports.Report, error) {
	in, err := readReportInput(store, evidence, area, period, asOf)
	if err != nil {
		return nil, fmt.Errorf("read records under %q: %w", area, err)
	}
	return reports.Compliance(in, policies, area, period), nil
}

// ReadReportInputWith converts the stored records under an area-code
// prefix into the rules' input, judging housing evidence with the given
// tolerances. Deleted records are left out; a record whose fields cannot
// be read as the rules need (a visit without a parsable time) is left out
// too, since the schemas refuse such records at the door. How stored facts
// become rule facts:
//
//   - Households: head_name, status.value and status.year; members from the
//     members collection by household_id; assigned officers from active
//     assignments. ExitedAt of an exited household is 1 January of its
//     status year (an exit year says no more), or, without a year, the
//     time the status was last written.
//   - Check-ins: ReceivedAt is the server receipt time of the op that
//     created the check-in (its "at" field is append-only, so that field's
//     op is the creating one), read from history; for a record whose op is
//     missing from history it falls back to that op's stamp, which the
//     server admitted no later than its clock allowed.
//   - Duty days count as approved only when approved_by was last written
//     by a township or county user whose scope covers the duty day; the
//     approver shown is that user.
//   - Housing cases: EvidenceComplete and Missing are the evidence
//     checker's verdict (see caseEvidenceReader.judge): before and after
//     photos records of the case (its case_id, or their blob cited by the
//     case's photo_sha256s) whose files arrived, the after photo taken
//     later and near the before one, and a valid acceptance signature by
//     the household head, within the evidence tolerances.
//
// It reads the store's report projection (Tx.ScanReportRows), kept
// by every write in the same transaction as the record, rather than the
// records themselves; readReportInputFromRecords is the straightforward
// reading of the records it must always agree with. Strings that repeat
// across records (household and member ids, officers, names, codes) are
// shared, not copied per record.
func ReadReportInputWith(tx Tx, evidence EvidencePolicy, area string, asOf time.Time) (*rules.Input, error) {
	r := newInputReader(tx, evidence, asOf)
	r.strs = map[string]string{}
	// The big slices are made at their size: grown by appends, the
	// visits alone would be copied a dozen times.
	var n [4]int
	for i, col := range []string{collection.Households, collection.Assignments, collection.Visits, collection.Checkins} {
		var err error
		if n[i], err = tx.CountReportRows(col, area); err != nil {
			return nil, fmt.Errorf("count %s: %w", col, err)
		}
	}
	if n[0]+n[1]+n[2]+n[3] > 0 { // nil, as appends leave them, when there is nothing
		r.in.Households, r.in.Assignments = make([]rules.Household, 0, n[0]), make([]rules.Assignment, 0, n[1])
		r.in.Visits, r.in.Checkins = make([]rules.Visit, 0, n[2]), make([]rules.Checkin, 0, n[3])
	}
	return r.read(area, tx.ScanReportRows)
}

// readReportInputFromRecords is ReadReportInputWith reading every stored
// record in full (Tx.ScanRecordsIn) and copying every string: the
// reference the projection is tested against.
func readReportInputFromRecords(tx Tx, evidence EvidencePolicy, area string, asOf time.Time) (*rules.Input, error) {
	return newInputReader(tx, evidence, asOf).read(area, tx.ScanRecordsIn)
}

// scanFunc is how an inputReader reads a collection: ScanReportRows or
// ScanRecordsIn.
type scanFunc func(collection, areaPrefix string, want []string, fn func(id, area string, fields []core.FieldView) error) error

func newInputReader(tx Tx, evidence EvidencePolicy, asOf time.Time) *inputReader {
	return &inputReader{tx: tx, in: &rules.Input{AsOf: asOf}, approvers: map[string]bool{},
		members: map[string][]rules.MemberRef{}, officers: map[string][]string{},
		cases: newCaseEvidenceReader(tx, evidence), zones: map[int]*time.Location{}}
}

// read reads every collection the rules need under area through scan.
func (r *inputReader) read(area string, scan scanFunc) (*rules.Input, error) {
	in := r.in
	steps := []struct {
		collection string
		fields     []string
		read       func(id, area string, f []core.FieldView) error
	}{
		{"villages", []string{"code", "name", "center", "geofence_m"}, r.village},
		{collection.Households, []string{"head_name", "status"}, r.household},
		{collection.Members, []string{"household_id", "name"}, r.member},
		{collection.Assignments, []string{"officer", "household_id", "active"}, r.assignment},
		{collection.Visits, []string{"visited_at", "household_id", "officer", "answered_by_member_id", "answered_by_name"}, r.visit},
		{collection.Checkins, []string{"at", "member", "village_code", "gps"}, r.checkin},
		{collection.Teams, []string{"village_code", "first_secretary", collection.Members}, r.team},
		{collection.DutyDays, []string{"date", "member", "kind", "approved_by"}, r.dutyDay},
		{collection.Photos, casePhotoFields, r.cases.photo},
		{collection.Signatures, caseSignatureFields, r.cases.signature},
		{"housing_cases", []string{"household_id", "grade", "photo_sha256s"}, r.housingCase},
	}
	for _, s := range steps {
		if r.only != nil && !r.only[s.collection] {
			continue
		}
		if s.collection == collection.Visits && r.scanVisits != nil {
			if err := r.scanVisits(area); err != nil {
				return nil, fmt.Errorf("read visits: %w", err)
			}
			continue
		}
		if err := scan(s.collection, area, s.fields, s.read); err != nil {
			return nil, fmt.Errorf("read %s: %w", s.collection, err)
		}
		r.flushMembers()
	}
	if err := r.readDuties(area); err != nil { // recordsduties.go
		return nil, err
	}
	for i := range in.Households {
		h := &in.Households[i]
		h.Members = r.members[h.ID]
		h.AssignedOfficers = r.officers[h.ID]
	}
	for i := range in.HousingCases {
		c := &in.HousingCases[i]
		v, err := r.cases.judge(c.ID, r.caseBlobs[i])
		if err != nil {
			return nil, fmt.Errorf("housing case %s: %w", c.ID, err)
		}
		c.EvidenceComplete, c.Missing = v.Complete, v.Missing
		if c.EvidenceComplete {
			c.Missing = nil
		}
	}
	return in, nil
}

// inputReader holds what ReadReportInputWith gathers between collections.
// Each reader gets a record's fields in the order its step names them.
type inputReader struct {
	tx Tx
	in *rules.Input
	// members and officers are keyed by household id.
	members  map[string][]rules.MemberRef
	officers map[string][]string
	// cases gathers the photos and signatures the housing cases'
	// evidence is judged on.
	cases *caseEvidenceReader
	// caseBlobs holds each housing case's photo_sha256s, by position.
	caseBlobs [][]string
	// approvers caches whether a user may approve duty days in an area,
	// keyed by user and area.
	approvers map[string]bool
	// strs holds strings read so far, to share rather than copy equal
	// ones; nil copies every string. It holds at most maxShared strings:
	// it is meant for the few values many records repeat (names, member
	// and village codes), and a lookup in a big map costs more than a copy.
	strs map[string]string
	// zones holds the fixed zone of each UTC offset times were read with.
	zones map[int]*time.Location
	// only, when set, names the collections read leaves to another
	// reader (see readReportInput); nil reads them all.
	only map[string]bool
	// pendingHousehold and pendingMembers are the members read last, of
	// one household, not yet in members (see member).
	pendingHousehold string
	pendingMembers   []rules.MemberRef
	// scanVisits, when set, reads the visits under an area instead of
	// the visits step (see readReportInputFor).
	scanVisits func(area string) error
}

// maxShared bounds inputReader.strs.
const maxShared = 4096

// str reads a JSON string value ("" when absent or not a string), shared
// with an equal string read before when the reader shares strings. The
// lookup of an escape-free value does not allocate.
func (r *inputReader) str(raw []byte) string {
	if r.strs == nil || len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' || slices.Contains(raw, '\\') {
		return jsonString(raw)
	}
	content := raw[1 : len(raw)-1]
	if s, ok := r.strs[string(content)]; ok {
		return s
	}
	s := string(content)
	if len(r.strs) < maxShared {
		r.strs[s] = s
	}
	return s
}

// time reads an RFC 3339 time value, as time.Parse does but without its
// allocations for the common shape "2006-01-02T15:04:05" plus "Z" or
// "±hh:mm": a time with an offset is given one shared fixed zone per
// offset (time.Parse makes a new zone per call, or uses time.Local when
// the offset is Local's), a "Z" time is UTC. Other shapes go through
// time.Parse and get the same zones.
func (r *inputReader) time(raw []byte) (time.Time, bool) {
	if t, ok := parseRFC3339Plain(raw, r.zone); ok {
		return t, true
	}
	t, err := time.Parse(time.RFC3339, jsonString(raw))
	if err != nil {
		return time.Time{}, false
	}
	if _, off := t.Zone(); t.Location() != time.UTC {
		t = t.In(r.zone(off))
	}
	return t, true
}

// zone returns the shared fixed zone of an offset in seconds east of UTC.
func (r *inputReader) zone(off int) *time.Location {
	z, ok := r.zones[off]
	if !ok {
		z = time.FixedZone("", off)
		r.zones[off] = z
	}
	return z
}

// parseRFC3339Plain parses a JSON string "YYYY-MM-DDThh:mm:ss" followed by
// "Z" or "±hh:mm"; ok is false for any other shape or a field out of
// range, so that the caller can let time.Parse judge it.
func parseRFC3339Plain(raw []byte, zone func(off int) *time.Location) (time.Time, bool) {
	if len(raw) != 22 && len(raw) != 27 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return time.Time{}, false
	}
	b := raw[1 : len(raw)-1]
	if b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	if day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, false
	}
	loc := time.UTC
	switch {
	case len(b) == 20 && b[19] == 'Z':
	case len(b) == 25 && (b[19] == '+' || b[19] == '-') && b[22] == ':':
		oh, okh := num(20, 2)
		om, okm := num(23, 2)
		if !okh || !okm || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		off := (oh*60 + om) * 60
		if b[19] == '-' {
			off = -off
		}
		if off == 0 && b[19] == '-' {
			return time.Time{}, false // "-00:00": leave it to time.Parse
		}
		loc = zone(off)
	default:
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, loc), true
}

// jsonString reads a JSON string value; "" when absent or not a string.
// Strings without escapes (nearly all) are copied without decoding.
func jsonString(raw []byte) string {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && !slices.Contains(raw, '\\') {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	if len(raw) > 0 && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// jsonTime reads an RFC 3339 time value.
func jsonTime(raw []byte) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, jsonString(raw))
	return t, err == nil
}

// jsonValue decodes a value into v; false when absent or of another shape.
func jsonValue(raw []byte, v any) bool {
	return len(raw) > 0 && json.Unmarshal(raw, v) == nil
}

type gpsFix struct {
	Lat       float64 `json:"lat"`
	Lon       float64 `json:"lon"`
	AccuracyM float64 `json:"accuracy_m"`
}

// read is jsonValue(raw, g), faster for the shape tablets write (a flat
// object of the three numbers): a county has a check-in for every
// member's every day.
func (g *gpsFix) read(raw []byte) bool {
	var fast gpsFix
	ok := plainObject(raw, func(key, val []byte) bool {
		var dst *float64
		switch string(key) {
		case "lat":
			dst = &fast.Lat
		case "lon":
			dst = &fast.Lon
		case "accuracy_m":
			dst = &fast.AccuracyM
		default:
			return false
		}
		v, ok := parseJSONNumber(val)
		*dst = v
		return ok
	})
	if ok {
		*g = fast
		return true
	}
	return jsonValue(raw, g)
}

// householdStatus is a household's status field.
type householdStatus struct {
	Value string `json:"value"`
	Year  int    `json:"year"`
}

// read is jsonValue(raw, st), faster for the plain shape
// {"value":"…","year":N}.
func (st *householdStatus) read(raw []byte) bool {
	var fast householdStatus
	ok := plainObject(raw, func(key, val []byte) bool {
		switch string(key) {
		case "value":
			if len(val) < 2 || val[0] != '"' || slices.Contains(val, '\\') {
				return false
			}
			fast.Value = string(val[1 : len(val)-1])
			return true
		case "year":
			y, err := strconv.Atoi(string(val))
			fast.Year = y
			return err == nil && val[0] != '+' && (val[0] != '0' || len(val) == 1) && (val[0] != '-' || len(val) > 1 && val[1] != '0')
		}
		return false
	})
	if ok {
		*st = fast
		return true
	}
	return jsonValue(raw, st)
}

// plainObject calls fn with each key and raw value of a JSON object whose
// keys have no escapes and whose values are numbers or strings without
// escapes, written without whitespace; false (having stopped) when raw
// has another shape or fn returns false. Callers then decode raw with
// encoding/json, which is the reference: this only skips its cost for
// the shapes the server's own encoders and tablets write.
func plainObject(raw []byte, fn func(key, val []byte) bool) bool {
	if len(raw) < 2 || raw[0] != '{' || raw[len(raw)-1] != '}' {
		return false
	}
	b := raw[1 : len(raw)-1]
	for len(b) > 0 {
		if b[0] != '"' {
			return false
		}
		end := bytes.IndexByte(b[1:], '"')
		if end < 0 {
			return false
		}
		key := b[1 : 1+end]
		b = b[2+end:]
		if slices.Contains(key, '\\') || len(b) == 0 || b[0] != ':' {
			return false
		}
		b = b[1:]
		var val []byte
		if len(b) > 0 && b[0] == '"' {
			end := bytes.IndexByte(b[1:], '"')
			if end < 0 {
				return false
			}
			val, b = b[:end+2], b[end+2:]
		} else {
			end := bytes.IndexByte(b, ',')
			if end < 0 {
				end = len(b)
			}
			val, b = b[:end], b[end:]
			if len(val) == 0 || bytes.ContainsAny(val, "{}[]\" :\t\r\n") {
				return false
			}
		}
		if !fn(key, val) {
			return false
		}
		if len(b) > 0 {
			if b[0] != ',' || len(b) == 1 {
				return false
			}
			b = b[1:]
		}
	}
	return true
}

// parseJSONNumber parses a JSON number as encoding/json does into a
// float64; false for text that is not a JSON number (strconv accepts
// more: "+1", "0x10", "Inf", "1_000", ".5").
func parseJSONNumber(b []byte) (float64, bool) {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	if i != len(b) {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(b), 64)
	return v, err == nil
}

func (r *inputReader) village(_, area string, f []core.FieldView) error {
	v := rules.Village{Code: jsonString(f[0].Value), Name: jsonString(f[1].Value)}
	if v.Code == "" {
		v.Code = area
	}
	var c gpsFix
	if jsonValue(f[2].Value, &c) {
		v.Lat, v.Lon = c.Lat, c.Lon
	}
	jsonValue(f[3].Value, &v.GeofenceM)
	r.in.Villages = append(r.in.Villages, v)
	return nil
}

func (r *inputReader) household(id, area string, f []core.FieldView) error {
	h := rules.Household{ID: id, Area: area, HeadName: r.str(f[0].Value)}
	var st householdStatus
	if !st.read(f[1].Value) || st.Value == "" {
		return nil // required by the schema: a record without it is not a household yet
	}
	h.Status, h.StatusYear = rules.Status(st.Value), st.Year
	if h.Status == rules.StatusExited {
		at := f[1].HLC.Time()
		if st.Year > 0 {
			at = time.Date(st.Year, time.January, 1, 0, 0, 0, 0, rules.Shanghai())
		}
		h.ExitedAt = &at
	}
	r.in.Households = append(r.in.Households, h)
	return nil
}

func (r *inputReader) member(id, _ string, f []core.FieldView) error {
	raw := f[0].Value
	m := rules.MemberRef{ID: id, Name: r.str(f[1].Value)}
	// Members come in id order, and a household's members' ids mostly
	// share its id: they gather in pending, one map write a household.
	if r.pendingHousehold != "" && len(raw) == len(r.pendingHousehold)+2 && raw[0] == '"' &&
		string(raw[1:len(raw)-1]) == r.pendingHousehold && !slices.Contains(raw, '\\') {
		r.pendingMembers = append(r.pendingMembers, m)
		return nil
	}
	r.flushMembers()
	if hh := jsonString(raw); hh != "" {
		r.pendingHousehold, r.pendingMembers = hh, append(r.members[hh], m)
	}
	return nil
}

// flushMembers files the pending household's members in r.members.
func (r *inputReader) flushMembers() {
	if r.pendingHousehold != "" {
		r.members[r.pendingHousehold] = r.pendingMembers
		r.pendingHousehold, r.pendingMembers = "", nil
	}
}

func (r *inputReader) assignment(_, _ string, f []core.FieldView) error {
	a := rules.Assignment{Officer: jsonString(f[0].Value), HouseholdID: jsonString(f[1].Value), Active: string(f[2].Value) == "true"}
	r.in.Assignments = append(r.in.Assignments, a)
	if a.Active && a.Officer != "" && !slices.Contains(r.officers[a.HouseholdID], a.Officer) {
		r.officers[a.HouseholdID] = append(r.officers[a.HouseholdID], a.Officer)
	}
	return nil
}

func (r *inputReader) visit(id, _ string, f []core.FieldView) error {
	at, ok := r.time(f[0].Value)
	if !ok {
		return nil
	}
	r.in.Visits = append(r.in.Visits, rules.Visit{ID: id, HouseholdID: jsonString(f[1].Value), Officer: jsonString(f[2].Value), At: at,
		AnsweredByMemberID: jsonString(f[3].Value), AnsweredByName: r.str(f[4].Value)})
	return nil
}

func (r *inputReader) checkin(id, area string, f []core.FieldView) error {
	at, ok := r.time(f[0].Value)
	if !ok {
		return nil
	}
	c := rules.Checkin{ID: id, Member: r.str(f[1].Value), VillageCode: r.str(f[2].Value), At: at}
	if c.VillageCode == "" {
		c.VillageCode = area
	}
	var g gpsFix
	if g.read(f[3].Value) {
		c.Lat, c.Lon, c.AccuracyM = g.Lat, g.Lon, g.AccuracyM
	}
	received := f[0].Received
	if received.IsZero() { // a scan that does not resolve receipt times
		var found bool
		var err error
		if received, found, err = r.tx.OpReceivedAt(string(f[0].OpID)); err != nil {
			return err
		} else if !found {
			received = f[0].HLC.Time()
		}
	}
	c.ReceivedAt = received
	r.in.Checkins = append(r.in.Checkins, c)
	return nil
}

func (r *inputReader) team(_, area string, f []core.FieldView) error {
	t := rules.Team{VillageCode: jsonString(f[0].Value), FirstSecretary: jsonString(f[1].Value)}
	if t.VillageCode == "" {
		t.VillageCode = area
	}
	jsonValue(f[2].Value, &t.Members)
	r.in.Teams = append(r.in.Teams, t)
	return nil
}

func (r *inputReader) dutyDay(_, area string, f []core.FieldView) error {
	date, err := rules.ParseDate(jsonString(f[0].Value))
	if err != nil {
		return nil
	}
	d := rules.DutyDay{Member: r.str(f[1].Value), Date: date, Kind: r.str(f[2].Value)}
	if jsonString(f[3].Value) != "" {
		by := string(f[3].Author)
		ok, err := r.mayApprove(by, area)
		if err != nil {
			return err
		}
		if ok {
			d.ApprovedBy = by
		}
	}
	r.in.DutyDays = append(r.in.DutyDays, d)
	return nil
}

// mayApprove reports whether user is a township or county user whose
// scope covers area.
func (r *inputReader) mayApprove(user, area string) (bool, error) {
	key := user + "\x00" + area
	if ok, seen := r.approvers[key]; seen {
		return ok, nil
	}
	u, err := r.tx.User(user)
	if err != nil {
		return false, fmt.Errorf("approver %s: %w", user, err)
	}
	ok := u != nil && !u.Disabled && (u.Role == auth.RoleTownship || u.Role == auth.RoleCounty) && auth.InScope(u.Scopes, area)
	r.approvers[key] = ok
	return ok, nil
}

func (r *inputReader) housingCase(id, area string, f []core.FieldView) error {
	c := rules.HousingCase{ID: id, HouseholdID: r.str(f[0].Value), Area: area, Grade: r.str(f[1].Value)}
	var blobs []string
	jsonValue(f[2].Value, &blobs)
	r.in.HousingCases = append(r.in.HousingCases, c)
	r.caseBlobs = append(r.caseBlobs, blobs)
	return nil
}

// validReportArea reports whether a is an area-code prefix reports accept:
// 2 to 12 digits.
func validReportArea(a string) bool {
	return len(a) >= 2 && len(a) <= 12 && strings.Trim(a, "0123456789") == ""
}

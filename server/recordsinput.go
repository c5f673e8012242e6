package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/boltstore"
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
// the period, judged at asOf (see ReadReportInputWith and reports.Compliance).
// The rules then run outside the transaction. Housing evidence is judged
// with the default tolerances (see ComplianceReportWith).
func ComplianceReport(store *boltstore.Store, policies *rules.PolicySet, area string, period rules.Period, asOf time.Time) (*reports.Report, error) {
	return ComplianceReportWith(store, policies, EvidencePolicy{}, area, period, asOf)
}

// ComplianceReportWith is ComplianceReport with the evidence tolerances
// the server is configured with (Config.Evidence).
func ComplianceReportWith(store *boltstore.Store, policies *rules.PolicySet, evidence EvidencePolicy, area string, period rules.Period, asOf time.Time) (*reports.Report, error) {
	var in *rules.Input
	err := store.View(func(tx *boltstore.Tx) (err error) {
		in, err = ReadReportInputWith(tx, evidence, area, asOf)
		return err
	})
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
func ReadReportInputWith(tx *boltstore.Tx, evidence EvidencePolicy, area string, asOf time.Time) (*rules.Input, error) {
	in := &rules.Input{AsOf: asOf}
	r := inputReader{tx: tx, in: in, approvers: map[string]bool{},
		members: map[string][]rules.MemberRef{}, officers: map[string][]string{},
		cases: newCaseEvidenceReader(tx, evidence)}
	steps := []struct {
		collection string
		fields     []string
		read       func(id, area string, f []boltstore.FieldView) error
	}{
		{"villages", []string{"code", "name", "center", "geofence_m"}, r.village},
		{"households", []string{"head_name", "status"}, r.household},
		{"members", []string{"household_id", "name"}, r.member},
		{"assignments", []string{"officer", "household_id", "active"}, r.assignment},
		{"visits", []string{"visited_at", "household_id", "officer", "answered_by_member_id", "answered_by_name"}, r.visit},
		{"checkins", []string{"at", "member", "village_code", "gps"}, r.checkin},
		{"teams", []string{"village_code", "first_secretary", "members"}, r.team},
		{"duty_days", []string{"date", "member", "kind", "approved_by"}, r.dutyDay},
		{"photos", casePhotoFields, r.cases.photo},
		{"signatures", caseSignatureFields, r.cases.signature},
		{"housing_cases", []string{"household_id", "grade", "photo_sha256s"}, r.housingCase},
	}
	for _, s := range steps {
		if err := tx.ScanRecordsIn(s.collection, area, s.fields, s.read); err != nil {
			return nil, fmt.Errorf("read %s: %w", s.collection, err)
		}
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
	tx *boltstore.Tx
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

func (r *inputReader) village(_, area string, f []boltstore.FieldView) error {
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

func (r *inputReader) household(id, area string, f []boltstore.FieldView) error {
	h := rules.Household{ID: id, Area: area, HeadName: jsonString(f[0].Value)}
	var st struct {
		Value string `json:"value"`
		Year  int    `json:"year"`
	}
	if !jsonValue(f[1].Value, &st) || st.Value == "" {
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

func (r *inputReader) member(id, _ string, f []boltstore.FieldView) error {
	if hh := jsonString(f[0].Value); hh != "" {
		r.members[hh] = append(r.members[hh], rules.MemberRef{ID: id, Name: jsonString(f[1].Value)})
	}
	return nil
}

func (r *inputReader) assignment(_, _ string, f []boltstore.FieldView) error {
	a := rules.Assignment{Officer: jsonString(f[0].Value), HouseholdID: jsonString(f[1].Value), Active: string(f[2].Value) == "true"}
	r.in.Assignments = append(r.in.Assignments, a)
	if a.Active && a.Officer != "" && !slices.Contains(r.officers[a.HouseholdID], a.Officer) {
		r.officers[a.HouseholdID] = append(r.officers[a.HouseholdID], a.Officer)
	}
	return nil
}

func (r *inputReader) visit(id, _ string, f []boltstore.FieldView) error {
	at, ok := jsonTime(f[0].Value)
	if !ok {
		return nil
	}
	r.in.Visits = append(r.in.Visits, rules.Visit{ID: id, HouseholdID: jsonString(f[1].Value), Officer: jsonString(f[2].Value), At: at,
		AnsweredByMemberID: jsonString(f[3].Value), AnsweredByName: jsonString(f[4].Value)})
	return nil
}

func (r *inputReader) checkin(id, area string, f []boltstore.FieldView) error {
	at, ok := jsonTime(f[0].Value)
	if !ok {
		return nil
	}
	c := rules.Checkin{ID: id, Member: jsonString(f[1].Value), VillageCode: jsonString(f[2].Value), At: at}
	if c.VillageCode == "" {
		c.VillageCode = area
	}
	var g gpsFix
	if jsonValue(f[3].Value, &g) {
		c.Lat, c.Lon, c.AccuracyM = g.Lat, g.Lon, g.AccuracyM
	}
	received, found, err := r.tx.OpReceivedAt(string(f[0].OpID))
	if err != nil {
		return err
	}
	if !found {
		received = f[0].HLC.Time()
	}
	c.ReceivedAt = received
	r.in.Checkins = append(r.in.Checkins, c)
	return nil
}

func (r *inputReader) team(_, area string, f []boltstore.FieldView) error {
	t := rules.Team{VillageCode: jsonString(f[0].Value), FirstSecretary: jsonString(f[1].Value)}
	if t.VillageCode == "" {
		t.VillageCode = area
	}
	jsonValue(f[2].Value, &t.Members)
	r.in.Teams = append(r.in.Teams, t)
	return nil
}

func (r *inputReader) dutyDay(_, area string, f []boltstore.FieldView) error {
	date, err := rules.ParseDate(jsonString(f[0].Value))
	if err != nil {
		return nil
	}
	d := rules.DutyDay{Member: jsonString(f[1].Value), Date: date, Kind: jsonString(f[2].Value)}
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

func (r *inputReader) housingCase(id, area string, f []boltstore.FieldView) error {
	c := rules.HousingCase{ID: id, HouseholdID: jsonString(f[0].Value), Area: area, Grade: jsonString(f[1].Value)}
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

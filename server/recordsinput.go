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
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Housing evidence gaps, as shown to county staff in the 缺少资料 column.
const (
	MissingBeforePhoto = "改造前照片"
	MissingAfterPhoto  = "竣工后照片"
	MissingAfterLater  = "竣工后照片须晚于改造前照片"
)

// ComplianceReport reads the records under an area-code prefix from the
// store in one read transaction and rolls the field rules up over them for
// the period, judged at asOf (see ReadReportInput and reports.Compliance).
// The rules then run outside the transaction.
func ComplianceReport(store *boltstore.Store, policies *rules.PolicySet, area string, period rules.Period, asOf time.Time) (*reports.Report, error) {
	var in *rules.Input
	err := store.View(func(tx *boltstore.Tx) (err error) {
		in, err = ReadReportInput(tx, area, asOf)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read records under %q: %w", area, err)
	}
	return reports.Compliance(in, policies, area, period), nil
}

// ReadReportInput converts the stored records under an area-code prefix
// into the rules' input. Deleted records are left out; a record whose
// fields cannot be read as the rules need (a visit without a parsable
// time) is left out too, since the schemas refuse such records at the
// door. How stored facts become rule facts:
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
//   - Housing cases: EvidenceComplete until the evidence checker lands is
//     computed from photos records (their case_id, or their blob cited by
//     the case's photo_sha256s): at least one before and one after photo,
//     and an after photo captured later than a before photo. The
//     signature part of the 13-item file is not yet checked.
func ReadReportInput(tx *boltstore.Tx, area string, asOf time.Time) (*rules.Input, error) {
	in := &rules.Input{AsOf: asOf}
	r := inputReader{tx: tx, area: area, in: in, approvers: map[string]bool{}}
	steps := []struct {
		collection string
		read       func(*syncengine.Record) error
	}{
		{"villages", r.village},
		{"households", r.household},
		{"members", r.member},
		{"assignments", r.assignment},
		{"visits", r.visit},
		{"checkins", r.checkin},
		{"teams", r.team},
		{"duty_days", r.dutyDay},
		{"photos", r.photo},
		{"housing_cases", r.housingCase},
	}
	r.members = map[string][]rules.MemberRef{}
	r.officers = map[string][]string{}
	r.photos = map[string][]casePhoto{}
	r.photosByBlob = map[string]casePhoto{}
	for _, s := range steps {
		err := tx.ForEachRecordIn(s.collection, area, func(rec *syncengine.Record) error {
			if del, _ := rec.Deleted(); del {
				return nil
			}
			return s.read(rec)
		})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", s.collection, err)
		}
	}
	for i := range in.Households {
		h := &in.Households[i]
		h.Members = r.members[h.ID]
		h.AssignedOfficers = r.officers[h.ID]
	}
	for i := range in.HousingCases {
		r.judgeEvidence(&in.HousingCases[i], r.caseBlobs[i])
	}
	return in, nil
}

// casePhoto is what the evidence check needs of a photos record.
type casePhoto struct {
	stage    string
	captured time.Time
}

// inputReader holds what ReadReportInput gathers between collections.
type inputReader struct {
	tx   *boltstore.Tx
	area string
	in   *rules.Input
	// members and officers are keyed by household id.
	members  map[string][]rules.MemberRef
	officers map[string][]string
	// photos are keyed by case id; photosByBlob by blob sha256.
	photos       map[string][]casePhoto
	photosByBlob map[string]casePhoto
	// caseBlobs holds each housing case's photo_sha256s, by position.
	caseBlobs [][]string
	// approvers caches whether a user may approve duty days in an area,
	// keyed by user and area.
	approvers map[string]bool
}

// fieldString reads a JSON string field; "" when absent or not a string.
// Strings without escapes (nearly all) are sliced without decoding.
func fieldString(rec *syncengine.Record, name string) string {
	raw := rec.Fields[name].Value
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && !slices.Contains(raw, '\\') {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	if len(raw) > 0 && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// fieldTime reads an RFC 3339 time field.
func fieldTime(rec *syncengine.Record, name string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, fieldString(rec, name))
	return t, err == nil
}

// fieldJSON decodes a field into v; false when absent or of another shape.
func fieldJSON(rec *syncengine.Record, name string, v any) bool {
	raw := rec.Fields[name].Value
	return len(raw) > 0 && json.Unmarshal(raw, v) == nil
}

type gpsFix struct {
	Lat       float64 `json:"lat"`
	Lon       float64 `json:"lon"`
	AccuracyM float64 `json:"accuracy_m"`
}

func (r *inputReader) village(rec *syncengine.Record) error {
	v := rules.Village{Code: fieldString(rec, "code"), Name: fieldString(rec, "name")}
	if v.Code == "" {
		v.Code = rec.Area
	}
	var c gpsFix
	if fieldJSON(rec, "center", &c) {
		v.Lat, v.Lon = c.Lat, c.Lon
	}
	fieldJSON(rec, "geofence_m", &v.GeofenceM)
	r.in.Villages = append(r.in.Villages, v)
	return nil
}

func (r *inputReader) household(rec *syncengine.Record) error {
	h := rules.Household{ID: rec.ID, Area: rec.Area, HeadName: fieldString(rec, "head_name")}
	var st struct {
		Value string `json:"value"`
		Year  int    `json:"year"`
	}
	if !fieldJSON(rec, "status", &st) || st.Value == "" {
		return nil // required by the schema: a record without it is not a household yet
	}
	h.Status, h.StatusYear = rules.Status(st.Value), st.Year
	if h.Status == rules.StatusExited {
		at := rec.Fields["status"].HLC.Time()
		if st.Year > 0 {
			at = time.Date(st.Year, time.January, 1, 0, 0, 0, 0, rules.Shanghai())
		}
		h.ExitedAt = &at
	}
	r.in.Households = append(r.in.Households, h)
	return nil
}

func (r *inputReader) member(rec *syncengine.Record) error {
	hh := fieldString(rec, "household_id")
	if hh != "" {
		r.members[hh] = append(r.members[hh], rules.MemberRef{ID: rec.ID, Name: fieldString(rec, "name")})
	}
	return nil
}

func (r *inputReader) assignment(rec *syncengine.Record) error {
	a := rules.Assignment{Officer: fieldString(rec, "officer"), HouseholdID: fieldString(rec, "household_id")}
	fieldJSON(rec, "active", &a.Active)
	r.in.Assignments = append(r.in.Assignments, a)
	if a.Active && a.Officer != "" && !slices.Contains(r.officers[a.HouseholdID], a.Officer) {
		r.officers[a.HouseholdID] = append(r.officers[a.HouseholdID], a.Officer)
	}
	return nil
}

func (r *inputReader) visit(rec *syncengine.Record) error {
	at, ok := fieldTime(rec, "visited_at")
	if !ok {
		return nil
	}
	r.in.Visits = append(r.in.Visits, rules.Visit{ID: rec.ID, HouseholdID: fieldString(rec, "household_id"),
		Officer: fieldString(rec, "officer"), At: at,
		AnsweredByMemberID: fieldString(rec, "answered_by_member_id"), AnsweredByName: fieldString(rec, "answered_by_name")})
	return nil
}

func (r *inputReader) checkin(rec *syncengine.Record) error {
	at, ok := fieldTime(rec, "at")
	if !ok {
		return nil
	}
	c := rules.Checkin{ID: rec.ID, Member: fieldString(rec, "member"), VillageCode: fieldString(rec, "village_code"), At: at}
	if c.VillageCode == "" {
		c.VillageCode = rec.Area
	}
	var g gpsFix
	if fieldJSON(rec, "gps", &g) {
		c.Lat, c.Lon, c.AccuracyM = g.Lat, g.Lon, g.AccuracyM
	}
	created := rec.Fields["at"]
	received, found, err := r.tx.OpReceivedAt(created.OpID)
	if err != nil {
		return err
	}
	if !found {
		received = created.HLC.Time()
	}
	c.ReceivedAt = received
	r.in.Checkins = append(r.in.Checkins, c)
	return nil
}

func (r *inputReader) team(rec *syncengine.Record) error {
	t := rules.Team{VillageCode: fieldString(rec, "village_code"), FirstSecretary: fieldString(rec, "first_secretary")}
	if t.VillageCode == "" {
		t.VillageCode = rec.Area
	}
	fieldJSON(rec, "members", &t.Members)
	r.in.Teams = append(r.in.Teams, t)
	return nil
}

func (r *inputReader) dutyDay(rec *syncengine.Record) error {
	date, err := rules.ParseDate(fieldString(rec, "date"))
	if err != nil {
		return nil
	}
	d := rules.DutyDay{Member: fieldString(rec, "member"), Date: date, Kind: fieldString(rec, "kind")}
	if fieldString(rec, "approved_by") != "" {
		by := rec.Fields["approved_by"].Author
		ok, err := r.mayApprove(by, rec.Area)
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

func (r *inputReader) photo(rec *syncengine.Record) error {
	at, ok := fieldTime(rec, "captured_at")
	if !ok {
		return nil
	}
	p := casePhoto{stage: fieldString(rec, "stage"), captured: at}
	if c := fieldString(rec, "case_id"); c != "" {
		r.photos[c] = append(r.photos[c], p)
	}
	if b := fieldString(rec, "blob_sha256"); b != "" {
		r.photosByBlob[b] = p
	}
	return nil
}

func (r *inputReader) housingCase(rec *syncengine.Record) error {
	c := rules.HousingCase{ID: rec.ID, HouseholdID: fieldString(rec, "household_id"), Area: rec.Area, Grade: fieldString(rec, "grade")}
	var blobs []string
	fieldJSON(rec, "photo_sha256s", &blobs)
	r.in.HousingCases = append(r.in.HousingCases, c)
	r.caseBlobs = append(r.caseBlobs, blobs)
	return nil
}

// judgeEvidence sets EvidenceComplete and Missing of a housing case from
// its photos: the case's own photos records plus those whose blob the case
// cites.
func (r *inputReader) judgeEvidence(c *rules.HousingCase, blobs []string) {
	photos := slices.Clone(r.photos[c.ID])
	for _, b := range blobs {
		if p, ok := r.photosByBlob[b]; ok {
			photos = append(photos, p)
		}
	}
	var firstBefore, lastAfter time.Time
	var before, after bool
	for _, p := range photos {
		switch p.stage {
		case "before":
			if !before || p.captured.Before(firstBefore) {
				firstBefore = p.captured
			}
			before = true
		case "after":
			if !after || p.captured.After(lastAfter) {
				lastAfter = p.captured
			}
			after = true
		}
	}
	c.Missing = nil
	if !before {
		c.Missing = append(c.Missing, MissingBeforePhoto)
	}
	if !after {
		c.Missing = append(c.Missing, MissingAfterPhoto)
	}
	if before && after && !lastAfter.After(firstBefore) {
		c.Missing = append(c.Missing, MissingAfterLater)
	}
	c.EvidenceComplete = len(c.Missing) == 0
}

// validReportArea reports whether a is an area-code prefix reports accept:
// 2 to 12 digits.
func validReportArea(a string) bool {
	return len(a) >= 2 && len(a) <= 12 && strings.Trim(a, "0123456789") == ""
}

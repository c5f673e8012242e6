package server

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/core"
)

// visitFieldNames are the fields of a visit the report reads, in the
// order inputReader.visit takes them.
var visitFieldNames = []string{"visited_at", "household_id", "officer", "answered_by_member_id", "answered_by_name"}

// visitTallier reads the visits of a report for one period: the visits
// the rules need only counted become rules.VisitTally values, one per
// household and year, and only the others are listed as rules.Visit (see
// rules.VisitTally for which a caller may tally). A county's million
// visits then give the rules a hundred thousand tallies and the few tens
// of thousands of visits the answerer rule judges, rather than a million
// values of six strings each.
//
// A visit is tallied when it is before the judging instant and either
// outside the period or answered by a member of its household (its
// answered_by_member_id among the household's members). Visits of
// households not in the input and visits at or after the judging instant
// are left out: no rule looks at them. Of the visits of years before the
// period's, only each household's latest is kept, in a tally of its own,
// and only when the household has no later visit before the judging
// instant: no cadence window reaches back there, so such a visit can
// only stand as the household's last visit.
type visitTallier struct {
	r *inputReader
	// start and end bound the period in Unix seconds (whole seconds).
	start, end int64
	// judge is the judging instant and judgeUnix its Unix second: the
	// cadence rule counts a visit when its Unix second is before
	// judgeUnix, the answerer rule judges it when it is before judge.
	judge     time.Time
	judgeUnix int64
	year      int // the period's first year (China Standard Time)
	// household maps a household id to its position in the input, and
	// members holds each position's members.
	household map[string]int32
	members   [][]rules.MemberRef
	// current holds, per household position, the position in
	// in.VisitTallies of its tally for year, -1 when none yet.
	current []int32
	// other holds the tallies of later years, by household and year.
	other map[tallyKey]int32
	// earlier holds, per household position, its latest visit of a year
	// before year.
	earlier []latest
}

type tallyKey struct {
	household int32
	year      int
}

// latest is the latest of some visits: the largest Unix time, and of
// those the smallest id.
type latest struct {
	set  bool
	unix int64
	id   string
}

// beats reports whether a visit is later than l's, or as late with a
// smaller id.
func (l *latest) beats(unix int64, id []byte) bool {
	return !l.set || unix > l.unix || unix == l.unix && string(id) < l.id
}

// newVisitTallier prepares to tally the visits of the households read so
// far (the households and members steps run before the visits step).
func newVisitTallier(r *inputReader, period rules.Period, asOf time.Time) *visitTallier {
	judge := period.End
	if !asOf.IsZero() && asOf.Before(period.End) {
		judge = asOf
	}
	n := len(r.in.Households)
	t := &visitTallier{r: r, start: period.Start.Unix(), end: period.End.Unix(), judge: judge, judgeUnix: judge.Unix(),
		year: period.Year(), household: make(map[string]int32, n), members: make([][]rules.MemberRef, n),
		current: make([]int32, n), other: map[tallyKey]int32{}, earlier: make([]latest, n)}
	for i := range r.in.Households {
		id := r.in.Households[i].ID
		t.household[id] = int32(i)
		t.members[i] = r.members[id]
		t.current[i] = -1
	}
	return t
}

// visit is the visits step's reader when tallying from report rows:
// fields as inputReader.visit takes them.
func (t *visitTallier) visit(id, area string, f []core.FieldView) error {
	at, ok := t.r.time(f[0].Value)
	if !ok || !at.Before(t.judge) {
		return nil
	}
	hi, ok := t.householdOf(f[1].Value)
	if !ok {
		return nil
	}
	unix := at.Unix()
	if unix >= t.judgeUnix || t.listed(hi, unix, f[3].Value) {
		return t.r.visit(id, area, f)
	}
	local := at.In(rules.Shanghai())
	y, m, _ := local.Date()
	switch {
	case y < t.year:
		if e := &t.earlier[hi]; e.beats(unix, []byte(id)) {
			*e = latest{set: true, unix: unix, id: id}
		}
	default:
		tl := &t.r.in.VisitTallies[t.tally(hi, y)]
		tl.Months[m-1]++
		if tl.LastAt.IsZero() || unix > tl.LastAt.Unix() || unix == tl.LastAt.Unix() && id < tl.LastID {
			tl.LastID, tl.LastAt = id, at
		}
	}
	return nil
}

// listed reports whether a visit at unix of the household at position hi,
// answered by the member id in raw, must be listed rather than tallied:
// in the period and not answered by a member of the household.
func (t *visitTallier) listed(hi int32, unix int64, answeredBy []byte) bool {
	if unix < t.start || unix >= t.end {
		return false
	}
	var id []byte
	if len(answeredBy) >= 2 && answeredBy[0] == '"' && answeredBy[len(answeredBy)-1] == '"' && !slices.Contains(answeredBy, '\\') {
		id = answeredBy[1 : len(answeredBy)-1] // compared without a copy
	} else {
		id = []byte(jsonString(answeredBy))
	}
	if len(id) == 0 {
		return true
	}
	for _, m := range t.members[hi] {
		if m.ID == string(id) {
			return false
		}
	}
	return true
}

// householdOf returns the input position of the household a visit's
// household_id names; false when the input has no such household.
func (t *visitTallier) householdOf(raw []byte) (int32, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && !slices.Contains(raw, '\\') {
		hi, ok := t.household[string(raw[1:len(raw)-1])] // no allocation
		return hi, ok
	}
	hi, ok := t.household[jsonString(raw)]
	return hi, ok
}

// tally returns the position in in.VisitTallies of the tally of a
// household (by input position) and year, made empty when there is none.
func (t *visitTallier) tally(hi int32, year int) int32 {
	if year == t.year && t.current[hi] >= 0 {
		return t.current[hi]
	}
	k := tallyKey{hi, year}
	if year != t.year {
		if ti, ok := t.other[k]; ok {
			return ti
		}
	}
	ti := int32(len(t.r.in.VisitTallies))
	t.r.in.VisitTallies = append(t.r.in.VisitTallies, rules.VisitTally{HouseholdID: t.r.in.Households[hi].ID, Year: year})
	if year == t.year {
		t.current[hi] = ti
	} else {
		t.other[k] = ti
	}
	return ti
}

// householdVisits is the reader of the by-household visit index
// (core.VisitIndexTx): one household's visits in one area.
func (t *visitTallier) householdVisits(ix core.VisitIndexTx, household []byte, visits []core.VisitEntry) error {
	hi, ok := t.household[string(household)]
	if !ok {
		return nil
	}
	var months [12]int32
	var best latest
	var bestID []byte
	counted := false
	for _, v := range visits {
		if v.Unix > t.judgeUnix { // after the judging instant
			continue
		}
		// A visit in the judging instant's second may be before it or
		// not: the rules tell, from the listed visit.
		if v.Unix == t.judgeUnix || t.listed(hi, v.Unix, v.AnsweredByMemberID) {
			if l := v.Listed; l != nil { // as inputReader.visit reads it
				if at, ok := t.r.time(l.VisitedAt); ok {
					t.r.in.Visits = append(t.r.in.Visits, rules.Visit{ID: string(v.ID), HouseholdID: t.r.in.Households[hi].ID,
						Officer: jsonString(l.Officer), At: at, AnsweredByMemberID: jsonString(v.AnsweredByMemberID),
						AnsweredByName: t.r.str(l.AnsweredByName)})
				}
				continue
			}
			area, f, ok, err := ix.ReportRow(collection.Visits, string(v.ID), visitFieldNames)
			if err != nil {
				return fmt.Errorf("visit %s: %w", v.ID, err)
			}
			if ok {
				if err := t.r.visit(string(v.ID), area, f); err != nil {
					return err
				}
			}
			continue
		}
		y, m, _ := time.Unix(v.Unix, 0).In(rules.Shanghai()).Date()
		switch {
		case y < t.year:
			if e := &t.earlier[hi]; e.beats(v.Unix, v.ID) {
				*e = latest{set: true, unix: v.Unix, id: string(v.ID)}
			}
		case y == t.year:
			months[m-1]++
			counted = true
			if !best.set || v.Unix > best.unix || v.Unix == best.unix && string(v.ID) < string(bestID) {
				best, bestID = latest{set: true, unix: v.Unix}, v.ID
			}
		default:
			tl := &t.r.in.VisitTallies[t.tally(hi, y)]
			tl.Months[m-1]++
			if tl.LastAt.IsZero() || v.Unix > tl.LastAt.Unix() || v.Unix == tl.LastAt.Unix() && string(v.ID) < tl.LastID {
				tl.LastID, tl.LastAt = string(v.ID), time.Unix(v.Unix, 0).UTC()
			}
		}
	}
	if !counted {
		return nil
	}
	tl := &t.r.in.VisitTallies[t.tally(hi, t.year)]
	for m, n := range months {
		tl.Months[m] += n
	}
	if tl.LastAt.IsZero() || best.unix > tl.LastAt.Unix() || best.unix == tl.LastAt.Unix() && string(bestID) < tl.LastID {
		tl.LastID, tl.LastAt = string(bestID), time.Unix(best.unix, 0).UTC()
	}
	return nil
}

// finish adds each household's latest visit of an earlier year as a
// tally of its own, when the household has no visit of the period's year
// or later before the judging instant (only then can it be the latest).
func (t *visitTallier) finish() {
	has := make([]bool, len(t.current))
	for i, ti := range t.current {
		has[i] = ti >= 0
	}
	for k := range t.other {
		has[k.household] = true
	}
	for i := range t.r.in.Visits {
		if hi, ok := t.household[t.r.in.Visits[i].HouseholdID]; ok {
			has[hi] = true
		}
	}
	for hi, e := range t.earlier {
		if !e.set || has[hi] {
			continue
		}
		at := time.Unix(e.unix, 0).UTC()
		_, m, _ := at.In(rules.Shanghai()).Date()
		tl := rules.VisitTally{HouseholdID: t.r.in.Households[hi].ID, Year: at.In(rules.Shanghai()).Year(), LastID: e.id, LastAt: at}
		tl.Months[m-1] = 1
		t.r.in.VisitTallies = append(t.r.in.VisitTallies, tl)
	}
}

// sideCollections are the collections readReportInput reads beside the
// others, on a second goroutine: what the rules need that does not hang
// on the households' members, as the visit tallies do. The assignments,
// housing cases and duties are read there too, so that both goroutines
// have about as much to read.
var sideCollections = append([]string{collection.Villages, collection.Checkins, collection.Teams, collection.DutyDays, collection.Assignments,
	collection.Photos, collection.Signatures, collection.HousingCases}, dutyCollections...)

// mainCollections are the collections readReportInput reads on the
// calling goroutine: the households, their members and the visits, which
// are tallied against the members.
var mainCollections = []string{collection.Households, collection.Members, collection.Visits}

// readReportInput is readReportInputFor in two read transactions of the
// same snapshot at once, one reading sideCollections and one the rest: on
// two cores the check-ins and assignments are read while the households
// and visits are. Neither waits for the other while it holds its
// transaction (a writer growing the file waits for open readers, and new
// readers wait for it). When the two do not see the same snapshot (a
// write committed between their starts), or the store cannot tell (no
// write generation), it reads everything in one transaction.
func readReportInput(store Store, evidence EvidencePolicy, area string, period rules.Period, asOf time.Time) (*rules.Input, error) {
	type part struct {
		r   *inputReader
		gen uint64
		ok  bool
		err error
	}
	read := func(only map[string]bool) part {
		var p part
		p.err = view(store, func(tx Tx) error {
			g, ok := tx.(generationTx)
			if !ok {
				return nil
			}
			p.gen, p.ok = g.Generation(), true
			p.r, p.err = readReportPart(tx, evidence, area, period, asOf, only)
			return p.err
		})
		return p
	}
	only := func(cols []string) map[string]bool {
		m := make(map[string]bool, len(cols))
		for _, c := range cols {
			m[c] = true
		}
		return m
	}
	var sidePart part
	done := make(chan struct{})
	go func() {
		defer close(done)
		sidePart = read(only(sideCollections))
	}()
	mainPart := read(only(mainCollections))
	<-done
	if mainPart.err != nil {
		return nil, mainPart.err
	}
	if sidePart.err != nil {
		return nil, sidePart.err
	}
	if mainPart.ok && sidePart.ok && mainPart.gen == sidePart.gen {
		in, side := mainPart.r.in, sidePart.r.in
		in.Villages, in.Checkins, in.Teams, in.DutyDays = side.Villages, side.Checkins, side.Teams, side.DutyDays
		in.Assignments, in.HousingCases = side.Assignments, side.HousingCases
		in.TeamDuties, in.DoctorContracts, in.DoctorVisits = side.TeamDuties, side.DoctorContracts, side.DoctorVisits
		officers := sidePart.r.officers
		for i := range in.Households {
			in.Households[i].AssignedOfficers = officers[in.Households[i].ID]
		}
		return in, nil
	}
	var in *rules.Input
	err := view(store, func(tx Tx) (err error) {
		in, err = readReportInputFor(tx, evidence, area, period, asOf, nil)
		return err
	})
	return in, err
}

// readReportInputFor is ReadReportInputWith for one period: the visits
// are tallied where the rules allow it (see visitTallier), so the input
// is only good for rules.Check over that period judged at asOf. It reads
// the visits from the store's by-household visit index when the store
// keeps one (core.VisitIndexTx), through its visit summaries when it
// keeps those too (core.VisitSummaryTx), else from the report rows. only, when
// not nil, names the collections to read (the others are left empty).
func readReportInputFor(tx Tx, evidence EvidencePolicy, area string, period rules.Period, asOf time.Time, only map[string]bool) (*rules.Input, error) {
	r, err := readReportPart(tx, evidence, area, period, asOf, only)
	if err != nil {
		return nil, err
	}
	return r.in, nil
}

// readReportPart is readReportInputFor returning the reader, whose
// officers by household readReportInput gives the households the other
// part read.
func readReportPart(tx Tx, evidence EvidencePolicy, area string, period rules.Period, asOf time.Time, only map[string]bool) (*inputReader, error) {
	r := newInputReader(tx, evidence, asOf)
	r.strs = map[string]string{}
	r.only = only
	var n [3]int
	for i, col := range []string{collection.Households, collection.Assignments, collection.Checkins} {
		var err error
		if n[i], err = tx.CountReportRows(col, area); err != nil {
			return nil, fmt.Errorf("count %s: %w", col, err)
		}
	}
	reads := func(c string) bool { return only == nil || only[c] }
	if n[0]+n[1]+n[2] > 0 { // nil, as appends leave them, when there is nothing
		if reads(collection.Households) {
			r.in.Households = make([]rules.Household, 0, n[0])
		}
		if reads(collection.Assignments) {
			r.in.Assignments = make([]rules.Assignment, 0, n[1])
		}
		if reads(collection.Checkins) {
			r.in.Checkins = make([]rules.Checkin, 0, n[2])
		}
		if reads(collection.Visits) {
			r.in.VisitTallies = make([]rules.VisitTally, 0, n[0]) // about one a household
		}
	}
	var tallier *visitTallier
	ix, indexed := tx.(core.VisitIndexTx)
	r.scanVisits = func(area string) error {
		tallier = newVisitTallier(r, period, asOf)
		if !indexed {
			return tx.ScanReportRows(collection.Visits, area, visitFieldNames, tallier.visit)
		}
		var err error
		if sx, summarized := tx.(core.VisitSummaryTx); summarized {
			err = sx.ScanVisitSummaries(area, func(a, household []byte, s *core.VisitSummary) error {
				return tallier.householdSummary(sx, a, household, s)
			})
		} else {
			err = ix.ScanVisitsByHousehold(area, func(_, household []byte, visits []core.VisitEntry) error {
				return tallier.householdVisits(ix, household, visits)
			})
		}
		// The rules list findings in the order of the visits: id order,
		// as a scan of the visits gives them.
		slices.SortFunc(r.in.Visits, func(a, b rules.Visit) int { return strings.Compare(a.ID, b.ID) })
		return err
	}
	if _, err := r.read(area, tx.ScanReportRows); err != nil {
		return nil, err
	}
	if tallier != nil {
		tallier.finish()
	}
	return r, nil
}

package server

import (
	"bytes"
	"slices"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/core"
)

// householdSummary is the reader of the store's visit summaries
// (core.VisitSummaryTx): one household's visits in one area, folded. It
// gives the rules what householdVisits would give them from the
// household's index entries, which it reads instead whenever the summary
// cannot tell: when a visit is not before the judging instant, when
// visits answered by someone not a member of the household fall in the
// period (the answerer rule judges each), or when a month only partly
// overlaps the period.
func (t *visitTallier) householdSummary(sx core.VisitSummaryTx, area, household []byte, s *core.VisitSummary) error {
	hi, ok := t.household[string(household)]
	if !ok {
		return nil
	}
	if s.MaxUnix >= t.judgeUnix || !t.summaryTells(hi, s) {
		return sx.HouseholdVisits(area, household, func(visits []core.VisitEntry) error {
			return t.householdVisits(sx, household, visits)
		})
	}
	// Every visit of a group is tallied (summaryTells): as householdVisits
	// does, the period's year is gathered first, then added.
	var months [12]int32
	var best latest
	var bestID []byte
	counted := false
	for i := range s.Groups {
		g := &s.Groups[i]
		switch {
		case g.Year < t.year:
			if e := &t.earlier[hi]; e.beats(g.LastUnix, g.LastID) {
				*e = latest{set: true, unix: g.LastUnix, id: string(g.LastID)}
			}
		case g.Year == t.year:
			for m, n := range g.Months {
				months[m] += n
			}
			counted = true
			if !best.set || g.LastUnix > best.unix || g.LastUnix == best.unix && bytes.Compare(g.LastID, bestID) < 0 {
				best, bestID = latest{set: true, unix: g.LastUnix}, g.LastID
			}
		default:
			tl := &t.r.in.VisitTallies[t.tally(hi, g.Year)]
			for m, n := range g.Months {
				tl.Months[m] += n
			}
			if tl.LastAt.IsZero() || g.LastUnix > tl.LastAt.Unix() || g.LastUnix == tl.LastAt.Unix() && string(g.LastID) < tl.LastID {
				tl.LastID, tl.LastAt = string(g.LastID), time.Unix(g.LastUnix, 0).UTC()
			}
		}
	}
	if counted {
		tl := &t.r.in.VisitTallies[t.tally(hi, t.year)]
		for m, n := range months {
			tl.Months[m] += n
		}
		if tl.LastAt.IsZero() || best.unix > tl.LastAt.Unix() || best.unix == tl.LastAt.Unix() && string(bestID) < tl.LastID {
			tl.LastID, tl.LastAt = string(bestID), time.Unix(best.unix, 0).UTC()
		}
	}
	// The visits without a member id are kept whole: read one by one.
	return t.householdVisits(sx, household, s.Unnamed)
}

// summaryTells reports whether every visit of the summary's groups is
// one the tallier tallies, so that the groups may be added as they are:
// each group answered by a member of the household (tallied wherever it
// falls), or with no visit in a month that meets the period. A month only
// partly in the period also sends the reader to the visits.
func (t *visitTallier) summaryTells(hi int32, s *core.VisitSummary) bool {
	for i := range s.Groups {
		g := &s.Groups[i]
		if t.memberAnswered(hi, g.AnsweredByMemberID) {
			continue
		}
		for m, n := range g.Months {
			if n == 0 {
				continue
			}
			start := time.Date(g.Year, time.Month(m+1), 1, 0, 0, 0, 0, rules.Shanghai())
			ms, me := start.Unix(), start.AddDate(0, 1, 0).Unix()
			if ms < t.end && me > t.start {
				return false // in the period, wholly or in part
			}
		}
	}
	return true
}

// memberAnswered reports whether a stored answered_by_member_id value
// names a member of the household at position hi (as listed reads it).
func (t *visitTallier) memberAnswered(hi int32, answeredBy []byte) bool {
	var id []byte
	if len(answeredBy) >= 2 && answeredBy[0] == '"' && answeredBy[len(answeredBy)-1] == '"' && !slices.Contains(answeredBy, '\\') {
		id = answeredBy[1 : len(answeredBy)-1]
	} else {
		id = []byte(jsonString(answeredBy))
	}
	if len(id) == 0 {
		return false
	}
	for _, m := range t.members[hi] {
		if m.ID == string(id) {
			return true
		}
	}
	return false
}

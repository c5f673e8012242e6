package core

import (
	"bytes"
	"slices"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
)

// VisitSummary is one household's visits in one area folded into what the
// compliance report needs of most of them: counts per calendar month and
// the latest visit, per year and answering member. A store keeps one per
// household and area beside its by-household visit index, rewritten in
// the same transaction as every visit write (see VisitSummaryTx), so a
// county report reads a hundred thousand summaries rather than a million
// index entries. It holds stored facts only, no rule or policy figure.
type VisitSummary struct {
	// MaxUnix is the latest visit's time in Unix seconds: a reader judging
	// at an instant not after it must look at the visits themselves.
	MaxUnix int64
	// Groups fold the visits that name an answering member
	// (answered_by_member_id), by year and member, in that order.
	Groups []VisitGroup
	// Unnamed are the visits without an answering member id, each as the
	// by-household index holds it (Listed set), in id order: the report
	// lists those of its period one by one.
	Unnamed []VisitEntry
}

// VisitGroup folds the visits of one household, one calendar year (China
// Standard Time) and one answering member.
type VisitGroup struct {
	Year int
	// AnsweredByMemberID is the stored JSON value the visits share.
	AnsweredByMemberID []byte
	// Months counts the visits by calendar month, January first.
	Months [12]int32
	// LastUnix and LastID are the latest visit (on a tie, the smallest
	// id).
	LastUnix int64
	LastID   []byte
}

// SummarizeVisits folds one household's visits, as its by-household index
// holds them (any order), into a summary; it is the only definition of a
// summary: stores call it when a visit changes and when they rebuild, and
// tests hold the kept summaries equal to it over the index. Slices of s
// point into visits.
func SummarizeVisits(visits []VisitEntry) VisitSummary {
	return FoldVisits(VisitSummary{}, visits)
}

// FoldVisits adds visits to s, a summary of other visits of the same
// household and area (none of the same id), and returns the summary of
// them all: FoldVisits(SummarizeVisits(a), b) is SummarizeVisits of a and
// b together. A store that only added index entries to a household uses it
// to bring the summary up to date without reading the entries it had.
// Slices of the result point into s and visits; s's own may be reused.
func FoldVisits(s VisitSummary, visits []VisitEntry) VisitSummary {
	empty := len(s.Groups) == 0 && len(s.Unnamed) == 0
	for i := range visits {
		v := &visits[i]
		if empty && i == 0 || v.Unix > s.MaxUnix {
			s.MaxUnix = v.Unix
		}
		if v.Listed != nil {
			s.Unnamed = append(s.Unnamed, *v)
			continue
		}
		y, m, _ := time.Unix(v.Unix, 0).In(rules.Shanghai()).Date()
		gi := slices.IndexFunc(s.Groups, func(g VisitGroup) bool {
			return g.Year == y && bytes.Equal(g.AnsweredByMemberID, v.AnsweredByMemberID)
		})
		if gi < 0 {
			s.Groups = append(s.Groups, VisitGroup{Year: y, AnsweredByMemberID: v.AnsweredByMemberID, LastUnix: v.Unix, LastID: v.ID})
			gi = len(s.Groups) - 1
		}
		g := &s.Groups[gi]
		g.Months[m-1]++
		if v.Unix > g.LastUnix || v.Unix == g.LastUnix && bytes.Compare(v.ID, g.LastID) < 0 {
			g.LastUnix, g.LastID = v.Unix, v.ID
		}
	}
	slices.SortFunc(s.Groups, func(a, b VisitGroup) int {
		if a.Year != b.Year {
			return a.Year - b.Year
		}
		return bytes.Compare(a.AnsweredByMemberID, b.AnsweredByMemberID)
	})
	slices.SortFunc(s.Unnamed, func(a, b VisitEntry) int { return bytes.Compare(a.ID, b.ID) })
	return s
}

// VisitSummaryTx is the part of a transaction that reads the visit
// summaries a store keeps (SummarizeVisits of each household's entries in
// its by-household visit index, per area). It is optional, like
// VisitIndexTx: readers use it when a store's transaction has it. The
// PostgreSQL store does not keep summaries.
type VisitSummaryTx interface {
	VisitIndexTx
	// ScanVisitSummaries calls fn for each household with live visits
	// whose area code starts with areaPrefix, in the order
	// ScanVisitsByHousehold shows them, with its summary. The arguments
	// are borrowed: valid only inside the call.
	ScanVisitSummaries(areaPrefix string, fn func(area, household []byte, s *VisitSummary) error) error
	// HouseholdVisits calls fn once with a household's visits in one
	// area as ScanVisitsByHousehold shows them (not at all when it has
	// none): for a reader that finds the summary does not tell it enough.
	HouseholdVisits(area, household []byte, fn func(visits []VisitEntry) error) error
}

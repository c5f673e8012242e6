// Package reports rolls the findings of the rules package up the area tree
// (county → township → village, or from any level down) for one period, and
// renders the result as JSON, CSV (UTF-8 with a byte-order mark, one file
// per list, so Excel opens Chinese text correctly) and XLSX (a summary
// sheet 汇总 and one sheet per list, written with excelize's stream writer
// so a county-sized report stays within memory bounds).
//
// Identity numbers (身份证号) never appear in full in a report: any value
// that looks like one, alone or inside free text, is masked to its first 6
// and last 4 characters.
package reports

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
)

// Report is a compliance report of one area for one period.
type Report struct {
	// Area is the scope: an area-code prefix (2, 4, 6, 9 or 12 digits
	// usually; "" means everything).
	Area   string       `json:"area"`
	Period rules.Period `json:"period"`
	// AsOf is the instant the rules judged at.
	AsOf time.Time `json:"as_of"`
	// Summary is the root of the roll-up tree: the scope's totals.
	Summary *Node `json:"summary"`
	// Lists holds the findings behind the counts, sorted by area then id.
	Lists Lists `json:"lists"`
}

// Level names a layer of the area tree.
type Level string

// Levels of the area tree, by the length of their code.
const (
	LevelAll      Level = "all"      // the empty scope
	LevelProvince Level = "province" // 2 digits
	LevelCity     Level = "city"     // 4 digits
	LevelCounty   Level = "county"   // 6 digits
	LevelTownship Level = "township" // 9 digits
	LevelVillage  Level = "village"  // 12 digits
)

// Label returns the level in Chinese.
func (l Level) Label() string {
	switch l {
	case LevelAll:
		return "全部"
	case LevelProvince:
		return "省"
	case LevelCity:
		return "市"
	case LevelCounty:
		return "县"
	case LevelTownship:
		return "乡镇"
	case LevelVillage:
		return "村"
	}
	return string(l)
}

// pathLengths returns the code lengths of the levels down to a leaf code:
// 2, 4, 6, 9, 12 (and the leaf's own length if it is longer).
func pathLengths(leaf string) []int {
	if len(leaf) > 12 {
		return []int{2, 4, 6, 9, 12, len(leaf)}
	}
	return []int{2, 4, 6, 9, 12}
}

func levelOf(code string) Level {
	switch len(code) {
	case 0:
		return LevelAll
	case 1, 2:
		return LevelProvince
	case 3, 4:
		return LevelCity
	case 5, 6:
		return LevelCounty
	case 7, 8, 9:
		return LevelTownship
	}
	return LevelVillage
}

// Node is one area of the roll-up. Its counts are the sums of its
// children's; a village's are the findings counted under it.
type Node struct {
	Code  string `json:"code"`
	Level Level  `json:"level"`
	Name  string `json:"name,omitempty"`
	// Counts has an entry for every finding kind, zero included.
	Counts   map[rules.Kind]int `json:"counts"`
	Total    int                `json:"total"`
	Children []*Node            `json:"children,omitempty"`
}

// Compliance runs every rule over the input for the period and rolls the
// findings of the areas under the scope prefix up to it. The rules see the
// whole input (an officer's caseload and a member's travel do not stop at
// a scope's border); only findings counted under the scope are kept.
// Every village of the input under the scope appears in the tree, with
// zero counts when it has no finding. A finding whose area is not a
// 12-digit code is counted under that code padded with zeros, the
// statistical code convention for a higher-level unit.
func Compliance(in *rules.Input, policies *rules.PolicySet, area string, period rules.Period) *Report {
	all := rules.Check(in, policies, period)
	r := &Report{Area: area, Period: period, AsOf: in.AsOf, Summary: newNode(area)}
	if r.AsOf.IsZero() || !r.AsOf.Before(period.End) {
		r.AsOf = period.End
	}
	t := tree{root: r.Summary, nodes: map[string]*Node{area: r.Summary}}
	names := make(map[string]string, len(in.Villages))
	for _, v := range in.Villages {
		names[v.Code] = v.Name
		if strings.HasPrefix(v.Code, area) {
			t.ensure(padArea(v.Code))
		}
	}
	seenArea := ""
	for i := range in.Households {
		if a := in.Households[i].Area; a != seenArea && strings.HasPrefix(a, area) {
			seenArea = a
			t.ensure(padArea(a))
		}
	}
	l := &r.Lists
	l.VisitOverdue = keep(&t, area, all.VisitOverdue, maskVisit)
	l.VisitDueSoon = keep(&t, area, all.VisitDueSoon, maskVisit)
	l.ResidencyShort = keep(&t, area, all.ResidencyShort, func(f *rules.ResidencyFinding) { f.Member = maskText(f.Member) })
	l.CheckinClock = keep(&t, area, all.CheckinClock, func(f *rules.ClockFinding) {
		f.Member, f.CheckinID = maskText(f.Member), maskText(f.CheckinID)
	})
	l.CheckinTravel = keep(&t, area, all.CheckinTravel, func(f *rules.TravelFinding) {
		f.Member, f.CheckinID, f.PreviousID = maskText(f.Member), maskText(f.CheckinID), maskText(f.PreviousID)
	})
	l.Caseload = keep(&t, area, all.Caseload, func(f *rules.CaseloadFinding) {
		f.Officer = maskText(f.Officer)
		f.HouseholdIDs = maskAll(f.HouseholdIDs)
	})
	l.TeamTooSmall = keep(&t, area, all.TeamTooSmall, func(f *rules.TeamFinding) {
		f.FirstSecretary = maskText(f.FirstSecretary)
		f.Members = maskAll(f.Members)
	})
	l.AnsweredBy = keep(&t, area, all.AnsweredBy, func(f *rules.AnswerFinding) {
		f.VisitID, f.HouseholdID, f.HeadName, f.Officer = maskText(f.VisitID), maskText(f.HouseholdID), maskText(f.HeadName), maskText(f.Officer)
		f.AnsweredByMemberID, f.AnsweredByName = maskText(f.AnsweredByMemberID), maskText(f.AnsweredByName)
	})
	l.HousingGaps = keep(&t, area, all.HousingGaps, func(f *rules.HousingFinding) {
		f.CaseID, f.HouseholdID, f.HeadName = maskText(f.CaseID), maskText(f.HouseholdID), maskText(f.HeadName)
		f.Missing = maskAll(f.Missing)
	})
	l.TeamDuties = keep(&t, area, all.TeamDuties, func(*rules.TeamDutyFinding) {})
	l.DoctorVisits = keep(&t, area, all.DoctorVisits, func(f *rules.DoctorFinding) {
		f.HouseholdID, f.HeadName, f.Doctor = maskText(f.HouseholdID), maskText(f.HeadName), maskText(f.Doctor)
	})
	t.finish(names)
	return r
}

func maskVisit(f *rules.VisitFinding) {
	f.HouseholdID, f.HeadName, f.LastVisitID = maskText(f.HouseholdID), maskText(f.HeadName), maskText(f.LastVisitID)
}

// keep filters findings to the scope, masks them, counts them in the tree
// and sorts them by area (then by their original order, which the rules
// keep deterministic).
func keep[F rules.Finding](t *tree, scope string, in []F, mask func(*F)) []F {
	// The positions kept are sorted by area then position, a total order,
	// so that an unstable sort of small values gives the stable order; a
	// county's tens of thousands of findings are then moved once, not
	// swapped about by a stable sort.
	type pos struct {
		area string
		i    int32
	}
	kept := make([]pos, 0, len(in))
	for i := range in {
		if area := in[i].FindingArea(); strings.HasPrefix(area, scope) {
			kept = append(kept, pos{area, int32(i)})
		}
	}
	slices.SortFunc(kept, func(a, b pos) int {
		if c := cmp.Compare(a.area, b.area); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	out := make([]F, len(kept))
	for j, p := range kept {
		out[j] = in[p.i]
		mask(&out[j])
		t.count(padArea(out[j].FindingArea()), out[j].FindingKind())
	}
	return out
}

// padArea pads a short area code with zeros to 12 digits.
func padArea(a string) string {
	if len(a) >= 12 {
		return a
	}
	return a + strings.Repeat("0", 12-len(a))
}

type tree struct {
	root  *Node
	nodes map[string]*Node
}

func newNode(code string) *Node {
	kinds := Kinds()
	n := &Node{Code: code, Level: levelOf(code), Counts: make(map[rules.Kind]int, len(kinds))}
	for _, k := range kinds {
		n.Counts[k] = 0
	}
	return n
}

// ensure creates the path from the root down to the leaf code and returns
// the nodes on it, root first.
func (t *tree) ensure(leaf string) *Node {
	parent := t.root
	scope := len(t.root.Code)
	for _, l := range pathLengths(leaf) {
		if l <= scope {
			continue
		}
		code := leaf[:l]
		n, ok := t.nodes[code]
		if !ok {
			n = newNode(code)
			t.nodes[code] = n
			parent.Children = append(parent.Children, n)
		}
		parent, scope = n, l
	}
	return parent
}

// count adds one finding to the leaf and every node above it.
func (t *tree) count(leaf string, k rules.Kind) {
	t.root.Counts[k]++
	t.root.Total++
	scope := len(t.root.Code)
	t.ensure(leaf)
	for _, l := range pathLengths(leaf) {
		if l <= scope {
			continue
		}
		n := t.nodes[leaf[:l]]
		n.Counts[k]++
		n.Total++
		scope = l
	}
}

// finish names the villages and sorts every level by code.
func (t *tree) finish(names map[string]string) {
	for code, n := range t.nodes {
		if name, ok := names[code]; ok {
			n.Name = name
		}
		slices.SortFunc(n.Children, func(a, b *Node) int { return cmp.Compare(a.Code, b.Code) })
	}
}

// Walk calls fn for every node of the tree, parents before children, in
// code order, with its depth below the root.
func (n *Node) Walk(fn func(n *Node, depth int)) {
	var walk func(*Node, int)
	walk = func(n *Node, d int) {
		fn(n, d)
		for _, c := range n.Children {
			walk(c, d+1)
		}
	}
	walk(n, 0)
}

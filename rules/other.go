package rules

import (
	"slices"
	"strings"
)

// CheckCaseload lists officers with more households under active
// assignment than their policy allows (3 in Anhui 2017 [000]). Each
// household counts once per officer. An officer's limit is the strictest
// among the policies of the areas of their households (the default policy
// when none of their households is known). The finding is counted under
// the village that holds most of the officer's households.
func CheckCaseload(in *Input, policies *PolicySet, period Period) []CaseloadFinding {
	return checkCaseload(in, newIndex(in), policies, period)
}

func checkCaseload(in *Input, ix *index, policies *PolicySet, period Period) []CaseloadFinding {
	// The active assignments as officer and household pairs, by officer
	// then household, each pair once: an officer's households are then
	// a run, in the order a finding lists them.
	type pair struct{ officer, household string }
	pairs := make([]pair, 0, len(in.Assignments))
	for _, a := range in.Assignments {
		if a.Active && a.Officer != "" && a.HouseholdID != "" {
			pairs = append(pairs, pair{a.Officer, a.HouseholdID})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.officer, b.officer); c != 0 {
			return c
		}
		return strings.Compare(a.household, b.household)
	})
	pairs = slices.Compact(pairs)
	pc := newPolicyCache(policies)
	year := period.Year()
	var out []CaseloadFinding
	type areaCount struct {
		area string
		n    int
	}
	var areas []areaCount
	for i := 0; i < len(pairs); {
		j := i + 1
		for j < len(pairs) && pairs[j].officer == pairs[i].officer {
			j++
		}
		run := pairs[i:j]
		i = j
		if len(run) <= 1 {
			continue // no policy allows fewer than one
		}
		limit := 0
		areas = areas[:0]
		for _, p := range run {
			h := ix.householdOf(in, p.household)
			if h == nil {
				continue
			}
			if k := slices.IndexFunc(areas, func(c areaCount) bool { return c.area == h.Area }); k >= 0 {
				areas[k].n++
			} else {
				areas = append(areas, areaCount{h.Area, 1})
				// The limit is the same for every household of an area.
				if l := pc.get(h.Area, year).Caseload.MaxHouseholdsPerOfficer; limit == 0 || l < limit {
					limit = l
				}
			}
		}
		if limit == 0 {
			limit = pc.get("", year).Caseload.MaxHouseholdsPerOfficer
		}
		if len(run) <= limit {
			continue
		}
		area, most := "", 0
		for _, c := range areas {
			if c.n > most || (c.n == most && c.area < area) {
				area, most = c.area, c.n
			}
		}
		hhs := make([]string, len(run))
		for k, p := range run {
			hhs[k] = p.household
		}
		out = append(out, CaseloadFinding{Kind: KindCaseloadExceeded, Area: area, Officer: run[0].officer,
			Households: len(hhs), Limit: limit, HouseholdIDs: hhs})
	}
	return out
}

// CheckTeamSize lists village work teams with fewer distinct members (the
// first secretary included) than their village's policy requires [001].
func CheckTeamSize(in *Input, policies *PolicySet, period Period) []TeamFinding {
	names := make(map[string]string, len(in.Villages))
	for _, v := range in.Villages {
		names[v.Code] = v.Name
	}
	var out []TeamFinding
	for i := range in.Teams {
		t := &in.Teams[i]
		members := teamMembers(t)
		req := policies.For(t.VillageCode, period.Year()).Team.MinMembers
		if len(members) >= req {
			continue
		}
		out = append(out, TeamFinding{Kind: KindTeamTooSmall, Area: t.VillageCode, VillageName: names[t.VillageCode],
			Members: members, FirstSecretary: t.FirstSecretary, Size: len(members), Required: req})
	}
	return out
}

// CheckAnsweredBy lists visits in the period where the person who answered
// is not a registered member of the household: a member id that is not
// among the household's members, or no id and a name that matches no
// member's name (after trimming spaces), or no answerer recorded at all.
// Visits of households not in the input are skipped.
func CheckAnsweredBy(in *Input, period Period) []AnswerFinding {
	return checkAnsweredBy(in, newIndex(in), period)
}

func checkAnsweredBy(in *Input, ix *index, period Period) []AnswerFinding {
	judge := judgeAt(period, in.AsOf)
	var out []AnswerFinding
	for i := range in.Visits {
		v := &in.Visits[i]
		hi := ix.visitHousehold[i]
		if hi < 0 || !period.Contains(v.At) || !v.At.Before(judge) {
			continue
		}
		h := &in.Households[hi]
		reason := ""
		switch {
		case v.AnsweredByMemberID != "":
			if !hasMember(h, func(m *MemberRef) bool { return m.ID == v.AnsweredByMemberID }) {
				reason = ReasonUnknownMemberID
			}
		case strings.TrimSpace(v.AnsweredByName) != "":
			name := strings.TrimSpace(v.AnsweredByName)
			if !hasMember(h, func(m *MemberRef) bool { return strings.TrimSpace(m.Name) == name }) {
				reason = ReasonNameNotMember
			}
		default:
			reason = ReasonNoAnswerer
		}
		if reason == "" {
			continue
		}
		out = append(out, AnswerFinding{Kind: KindAnsweredByOther, Area: h.Area, VisitID: v.ID,
			HouseholdID: h.ID, HeadName: h.HeadName, Officer: v.Officer, At: v.At,
			AnsweredByMemberID: v.AnsweredByMemberID, AnsweredByName: v.AnsweredByName, Reason: reason})
	}
	return out
}

func hasMember(h *Household, match func(*MemberRef) bool) bool {
	for i := range h.Members {
		if match(&h.Members[i]) {
			return true
		}
	}
	return false
}

// CheckHousing lists housing renovation cases whose evidence the evidence
// checker found incomplete, with what is missing. A case without an area
// takes its household's.
func CheckHousing(in *Input) []HousingFinding {
	return checkHousing(in, newIndex(in))
}

func checkHousing(in *Input, ix *index) []HousingFinding {
	var out []HousingFinding
	for _, c := range in.HousingCases {
		if c.EvidenceComplete {
			continue
		}
		f := HousingFinding{Kind: KindHousingEvidenceGap, Area: c.Area, CaseID: c.ID, HouseholdID: c.HouseholdID,
			Grade: c.Grade, Missing: c.Missing}
		if h := ix.householdOf(in, c.HouseholdID); h != nil {
			f.HeadName = h.HeadName
			if f.Area == "" {
				f.Area = h.Area
			}
		}
		out = append(out, f)
	}
	return out
}

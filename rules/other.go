package rules

import (
	"sort"
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
	byOfficer := map[string][]string{}
	seen := map[[2]string]bool{}
	for _, a := range in.Assignments {
		if !a.Active || a.Officer == "" || a.HouseholdID == "" {
			continue
		}
		k := [2]string{a.Officer, a.HouseholdID}
		if seen[k] {
			continue
		}
		seen[k] = true
		byOfficer[a.Officer] = append(byOfficer[a.Officer], a.HouseholdID)
	}
	pc := newPolicyCache(policies)
	year := period.Year()
	var out []CaseloadFinding
	for officer, hhs := range byOfficer {
		if len(hhs) <= 1 {
			continue // no policy allows fewer than one
		}
		limit := 0
		areas := map[string]int{}
		for _, id := range hhs {
			h := ix.householdOf(in, id)
			if h == nil {
				continue
			}
			areas[h.Area]++
			if l := pc.get(h.Area, year).Caseload.MaxHouseholdsPerOfficer; limit == 0 || l < limit {
				limit = l
			}
		}
		if limit == 0 {
			limit = pc.get("", year).Caseload.MaxHouseholdsPerOfficer
		}
		if len(hhs) <= limit {
			continue
		}
		area, most := "", 0
		for a, n := range areas {
			if n > most || (n == most && a < area) {
				area, most = a, n
			}
		}
		sort.Strings(hhs)
		out = append(out, CaseloadFinding{Kind: KindCaseloadExceeded, Area: area, Officer: officer,
			Households: len(hhs), Limit: limit, HouseholdIDs: hhs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Officer < out[j].Officer })
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

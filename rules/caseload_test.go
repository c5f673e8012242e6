package rules_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"

	"github.com/ruhu-dev/ruhu/rules"
)

// caseloadModel is the caseload rule written the plain way: a map of
// each officer's distinct households, then each officer judged. The rule
// must give what it gives.
func caseloadModel(in *rules.Input, policies *rules.PolicySet, period rules.Period) []rules.CaseloadFinding {
	households := map[string]*rules.Household{}
	for i := range in.Households {
		if _, dup := households[in.Households[i].ID]; !dup {
			households[in.Households[i].ID] = &in.Households[i]
		}
	}
	byOfficer := map[string][]string{}
	seen := map[[2]string]bool{}
	for _, a := range in.Assignments {
		k := [2]string{a.Officer, a.HouseholdID}
		if !a.Active || a.Officer == "" || a.HouseholdID == "" || seen[k] {
			continue
		}
		seen[k] = true
		byOfficer[a.Officer] = append(byOfficer[a.Officer], a.HouseholdID)
	}
	var out []rules.CaseloadFinding
	for officer, hhs := range byOfficer {
		limit := 0
		areas := map[string]int{}
		for _, id := range hhs {
			if h := households[id]; h != nil {
				areas[h.Area]++
				if l := policies.For(h.Area, period.Year()).Caseload.MaxHouseholdsPerOfficer; limit == 0 || l < limit {
					limit = l
				}
			}
		}
		if limit == 0 {
			limit = policies.For("", period.Year()).Caseload.MaxHouseholdsPerOfficer
		}
		if len(hhs) <= 1 || len(hhs) <= limit {
			continue
		}
		area, most := "", 0
		for a, n := range areas {
			if n > most || (n == most && a < area) {
				area, most = a, n
			}
		}
		sort.Strings(hhs)
		out = append(out, rules.CaseloadFinding{Kind: rules.KindCaseloadExceeded, Area: area, Officer: officer,
			Households: len(hhs), Limit: limit, HouseholdIDs: hhs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Officer < out[j].Officer })
	return out
}

// TestCaseloadEqualsModel holds CheckCaseload equal to caseloadModel on
// random assignments: duplicates, inactive ones, unknown households,
// empty officers, households in several villages and areas with a policy
// of their own. The seed is printed.
func TestCaseloadEqualsModel(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	ps, p := policies(t), period(t, "2026H2")
	areas := []string{"340102001001", "340102001002", "340188002001", "350102001001"}
	found := 0
	for round := range 200 {
		in := &rules.Input{}
		for i := range 1 + rng.IntN(30) {
			in.Households = append(in.Households, rules.Household{ID: fmt.Sprintf("h%d", i), Area: areas[rng.IntN(len(areas))]})
		}
		for range rng.IntN(80) {
			in.Assignments = append(in.Assignments, rules.Assignment{Officer: []string{"o1", "o2", "o3", ""}[rng.IntN(4)],
				HouseholdID: fmt.Sprintf("h%d", rng.IntN(len(in.Households)+3)), Active: rng.IntN(6) > 0})
		}
		got, want := rules.CheckCaseload(in, ps, p), caseloadModel(in, ps, p)
		found += len(want)
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d round %d:\ngot  %+v\nwant %+v", seed, round, got, want)
		}
	}
	if found == 0 {
		t.Fatalf("seed %d: no finding in any round: nothing compared", seed)
	}
}

package reports

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/rules"
)

// TestKeepIsAStableSortByArea holds keep equal to its plain definition:
// the findings in scope, masked, in a stable sort by area, each counted
// once in the tree. Random areas and scopes; the seed is printed.
func TestKeepIsAStableSortByArea(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 4))
	areas := []string{"340102001001", "340102001002", "340102002001", "340188001001", "3401", "350102001001"}
	mask := func(f *rules.ResidencyFinding) { f.Member = "*" + f.Member }
	for round := range 100 {
		var in []rules.ResidencyFinding
		for i := range rng.IntN(300) {
			in = append(in, rules.ResidencyFinding{Kind: rules.KindResidencyShort, Area: areas[rng.IntN(len(areas))], Member: fmt.Sprint(i)})
		}
		scope := []string{"", "34", "340102", "340102001002", "36"}[rng.IntN(5)]
		var want []rules.ResidencyFinding
		for _, f := range in {
			if strings.HasPrefix(f.Area, scope) {
				mask(&f)
				want = append(want, f)
			}
		}
		slices.SortStableFunc(want, func(a, b rules.ResidencyFinding) int { return cmp.Compare(a.Area, b.Area) })
		tr := tree{root: newNode(""), nodes: map[string]*Node{}}
		got := keep(&tr, scope, in, mask)
		if len(got) != len(want) || len(want) > 0 && !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d round %d: kept\n%v\nwant\n%v", seed, round, got, want)
		}
		counted := 0
		for _, n := range tr.nodes {
			if len(n.Code) == 12 {
				counted += n.Counts[rules.KindResidencyShort]
			}
		}
		if counted != len(want) {
			t.Fatalf("seed %d round %d: %d counted, %d kept", seed, round, counted, len(want))
		}
	}
}

package core_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"testing"

	"github.com/ruhu-dev/ruhu/server/core"
)

// TestFoldVisitsEqualsSummarizing: folding visits into the summary of
// others gives the summary of them all, whatever the split and order, on
// random visits (named and unnamed, several years, ties in time). The seed
// is printed; RUHU_SEED reruns one.
func TestFoldVisitsEqualsSummarizing(t *testing.T) {
	seed := rand.Uint64()
	if s, err := strconv.ParseUint(os.Getenv("RUHU_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (RUHU_SEED=%d reruns it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	members := [][]byte{[]byte(`"m1"`), []byte(`"m2"`), []byte(`12`)}
	for round := range 200 {
		n := rng.IntN(40)
		visits := make([]core.VisitEntry, n)
		for i := range visits {
			v := core.VisitEntry{ID: fmt.Appendf(nil, "v%03d", rng.IntN(1000)*1000+i),
				Unix: 1_700_000_000 + int64(rng.IntN(4))*31_000_000 + int64(rng.IntN(20))*86_400}
			if rng.IntN(3) == 0 {
				v.Listed = &core.ListedVisit{VisitedAt: []byte(`"x"`), AnsweredByName: []byte(`"王伟"`)}
			} else {
				v.AnsweredByMemberID = members[rng.IntN(len(members))]
			}
			visits[i] = v
		}
		want := core.SummarizeVisits(append([]core.VisitEntry(nil), visits...))
		rng.Shuffle(len(visits), func(i, j int) { visits[i], visits[j] = visits[j], visits[i] })
		k := 0
		if n > 0 {
			k = rng.IntN(n + 1)
		}
		got := core.FoldVisits(core.SummarizeVisits(visits[:k]), visits[k:])
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d round %d: folding %d visits into the summary of %d gave\n%+v\nwant\n%+v", seed, round, n-k, k, got, want)
		}
	}
}

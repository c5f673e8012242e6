package rules_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
)

// tally moves the visits of in that a caller may tally (before the
// judging instant, and outside the period or answered by a member of
// their household) into VisitTallies, each with probability keep, one
// tally per household and year. It returns a new input; in is unchanged.
func tally(in *rules.Input, period rules.Period, rng *rand.Rand) *rules.Input {
	judge := period.End
	if !in.AsOf.IsZero() && in.AsOf.Before(period.End) {
		judge = in.AsOf
	}
	households := map[string]*rules.Household{}
	for i := range in.Households {
		households[in.Households[i].ID] = &in.Households[i]
	}
	isMember := func(v *rules.Visit) bool {
		h := households[v.HouseholdID]
		if h == nil || v.AnsweredByMemberID == "" {
			return false
		}
		for _, m := range h.Members {
			if m.ID == v.AnsweredByMemberID {
				return true
			}
		}
		return false
	}
	out := *in
	out.Visits = nil
	type key struct {
		household string
		year      int
	}
	at := map[key]int{}
	for i := range in.Visits {
		v := in.Visits[i]
		if !v.At.Before(judge) || period.Contains(v.At) && !isMember(&v) || rng.IntN(3) == 0 {
			out.Visits = append(out.Visits, v)
			continue
		}
		local := v.At.In(rules.Shanghai())
		k := key{v.HouseholdID, local.Year()}
		ti, ok := at[k]
		if !ok {
			ti = len(out.VisitTallies)
			at[k] = ti
			out.VisitTallies = append(out.VisitTallies, rules.VisitTally{HouseholdID: k.household, Year: k.year})
		}
		t := &out.VisitTallies[ti]
		t.Months[local.Month()-1]++
		if t.LastAt.IsZero() || v.At.Unix() > t.LastAt.Unix() || v.At.Unix() == t.LastAt.Unix() && v.ID < t.LastID {
			t.LastID, t.LastAt = v.ID, v.At
		}
	}
	return &out
}

// randomVisitInput makes households of every status with members, and
// visits over 2025 and 2026, not in id order: some at the same second,
// answered by members, by unknown member ids, by names or by no one.
func randomVisitInput(rng *rand.Rand) *rules.Input {
	in := &rules.Input{}
	statuses := []rules.Status{rules.StatusExited, rules.StatusPoor, rules.StatusMonitored, rules.StatusFellBack, rules.StatusRemoved}
	for i := range 40 {
		h := rules.Household{ID: "h" + strconv.Itoa(i), Area: village, HeadName: "户主", Status: statuses[rng.IntN(len(statuses))], StatusYear: 2019}
		if h.Status == rules.StatusExited && rng.IntN(3) == 0 {
			at := local(2026, time.Month(1+rng.IntN(12)), 1, 0, 0, 0)
			h.ExitedAt = &at
		}
		for m := range 1 + rng.IntN(3) {
			h.Members = append(h.Members, rules.MemberRef{ID: fmt.Sprintf("%s-m%d", h.ID, m), Name: "成员" + strconv.Itoa(m)})
		}
		in.Households = append(in.Households, h)
	}
	var times []time.Time
	for range 400 {
		at := local(2025+rng.IntN(2), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60))
		if len(times) > 0 && rng.IntN(8) == 0 {
			at = times[rng.IntN(len(times))].In(time.UTC) // the same second, in another zone
		}
		times = append(times, at)
		h := &in.Households[rng.IntN(len(in.Households))]
		v := rules.Visit{ID: fmt.Sprintf("v%03d", rng.IntN(1000)), HouseholdID: h.ID, Officer: "o1", At: at}
		if rng.IntN(30) == 0 {
			v.HouseholdID = "gone"
		}
		switch r := rng.IntN(10); {
		case r < 6:
			v.AnsweredByMemberID = h.Members[rng.IntN(len(h.Members))].ID
		case r < 7:
			v.AnsweredByMemberID = "stranger"
		case r < 9:
			v.AnsweredByName = "成员" + strconv.Itoa(rng.IntN(4))
		}
		in.Visits = append(in.Visits, v)
	}
	return in
}

// TestVisitTalliesEqualListedVisits: the findings are the same whether the
// visits a caller may tally are listed or tallied, in any order, for
// every kind of period and judging instant. The seed is printed;
// RUHU_SEED reruns one.
func TestVisitTalliesEqualListedVisits(t *testing.T) {
	seed := rand.Uint64()
	if s, err := strconv.ParseUint(os.Getenv("RUHU_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (RUHU_SEED=%d reruns it)", seed, seed)
	ps := policies(t)
	findings, withLast, tallies := 0, 0, 0
	for round := range 60 {
		rng := rand.New(rand.NewPCG(seed, uint64(round)))
		in := randomVisitInput(rng)
		p := period(t, []string{"2026", "2026H2", "2026Q3", "2026-11", "2025H1"}[rng.IntN(5)])
		if rng.IntN(2) == 0 {
			in.AsOf = p.Start.Add(time.Duration(rng.Int64N(int64(p.End.Sub(p.Start)))))
		}
		want := rules.Check(in, ps, p)
		tallied := tally(in, p, rng)
		tallies += len(tallied.VisitTallies)
		got := rules.Check(tallied, ps, p)
		if !reflect.DeepEqual(got.VisitOverdue, want.VisitOverdue) || !reflect.DeepEqual(got.VisitDueSoon, want.VisitDueSoon) ||
			!reflect.DeepEqual(got.AnsweredBy, want.AnsweredBy) {
			t.Fatalf("seed %d round %d (%s, as of %v): tallied findings differ\ngot  %+v\nwant %+v", seed, round, p.Label, in.AsOf,
				got, want)
		}
		for _, f := range want.VisitOverdue {
			if f.LastVisitID != "" {
				withLast++
			}
		}
		findings += len(want.VisitOverdue) + len(want.VisitDueSoon) + len(want.AnsweredBy)
	}
	if findings == 0 || withLast == 0 || tallies == 0 {
		t.Fatalf("seed %d: %d findings, %d naming a last visit, %d tallies: nothing compared", seed, findings, withLast, tallies)
	}
}

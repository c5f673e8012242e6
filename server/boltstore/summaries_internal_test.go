package boltstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// randomVisitOps makes n ops on a few visits of a few households: visit
// times over four years (and unreadable ones), answerers by member id,
// by name, escaped, of another JSON shape or absent, households changed,
// tombstones, ops that lose their merge and ops sent twice.
func randomVisitOps(rng *rand.Rand, n int) []*syncengine.Op {
	areas := []string{"340199001001", "340199001002", "340188002001"}
	households := []string{`"h1"`, `"h2"`, `"h10"`, `"h\u0031"`, `""`, `7`}
	answerers := []string{`"h1-0"`, `"h1-1"`, `"h2-0"`, `"h\u0031-0"`, `""`, `null`, `12`}
	names := []string{`"王伟"`, `" 李芳 "`, `""`}
	area := map[string]string{}
	var ops []*syncengine.Op
	for i := range n {
		if i > 0 && rng.IntN(15) == 0 {
			ops = append(ops, ops[rng.IntN(len(ops))])
			continue
		}
		id := fmt.Sprintf("v%d", rng.IntN(25))
		if area[id] == "" {
			area[id] = areas[rng.IntN(len(areas))]
		}
		op := &syncengine.Op{ID: fmt.Sprintf("op%04d", i), RecordID: id, Collection: "visits", Area: area[id],
			Author: "wang", Device: "d1", HLC: syncengine.MakeHLC(1_700_000_000_000+int64(rng.IntN(2000)), 0),
			ReceivedAt: time.UnixMilli(1_700_000_000_000).UTC(), Set: map[string]json.RawMessage{}}
		if rng.IntN(10) == 0 {
			op.Tombstone, op.Set = &syncengine.Tombstone{Reason: "录错"}, nil
			ops = append(ops, op)
			continue
		}
		set := func(name, value string) {
			if rng.IntN(3) > 0 {
				op.Set[name] = json.RawMessage(value)
			}
		}
		at := time.Date(2024+rng.IntN(4), time.Month(1+rng.IntN(12)), 1+rng.IntN(31), rng.IntN(24), rng.IntN(2)*59, 0, 0,
			time.FixedZone("", []int{0, 8 * 3600, -5 * 3600}[rng.IntN(3)]))
		visitedAt := `"` + at.Format(time.RFC3339) + `"`
		if rng.IntN(20) == 0 {
			visitedAt = `"yesterday"`
		}
		set("visited_at", visitedAt)
		set("household_id", households[rng.IntN(len(households))])
		set("answered_by_member_id", answerers[rng.IntN(len(answerers))])
		set("answered_by_name", names[rng.IntN(len(names))])
		set("officer", `"wang"`)
		if len(op.Set) == 0 {
			op.Set["notes"] = json.RawMessage(`"x"`)
		}
		ops = append(ops, op)
	}
	return ops
}

// summariesKept returns the stored summaries, decoded and shown, by key.
func summariesKept(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.View(func(tx *Tx) error {
		return tx.ScanVisitSummaries("", func(area, household []byte, sum *core.VisitSummary) error {
			out[string(area)+" "+string(household)] = showSummary(sum)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// summariesFromRecords recomputes every summary from the visit records
// themselves (ScanRecordsIn), not from the index: what the kept
// summaries must equal.
func summariesFromRecords(t *testing.T, s *Store) map[string]string {
	t.Helper()
	entries := map[string][]VisitEntry{}
	want := []string{"visited_at", "household_id", "answered_by_member_id", "answered_by_name", "officer"}
	err := s.View(func(tx *Tx) error {
		return tx.ScanRecordsIn("visits", "", want, func(id, area string, fs []FieldView) error {
			f := visitFields{visitedAt: fs[0].Value, household: fs[1].Value, answeredBy: fs[2].Value,
				answeredByName: fs[3].Value, officer: fs[4].Value}
			key, value := visitEntryKey(area, []byte(id), &f)
			if key == nil {
				return nil
			}
			hh, _ := jsonText(fs[1].Value)
			e := VisitEntry{ID: []byte(id)}
			if !decodeVisitEntry(bytes.Clone(value), &e, &core.ListedVisit{}) {
				return fmt.Errorf("entry of %s does not decode", id)
			}
			entries[area+" "+hh] = append(entries[area+" "+hh], e)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, es := range entries {
		rng := rand.New(rand.NewPCG(uint64(len(es)), 1)) // SummarizeVisits takes any order
		rng.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
		sum := core.SummarizeVisits(es)
		out[k] = showSummary(&sum)
	}
	return out
}

// showSummary writes a summary out, values and not pointers.
func showSummary(s *core.VisitSummary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "max %d", s.MaxUnix)
	for _, g := range s.Groups {
		fmt.Fprintf(&b, " | %d %s %v last %d %s", g.Year, g.AnsweredByMemberID, g.Months, g.LastUnix, g.LastID)
	}
	for _, e := range s.Unnamed {
		fmt.Fprintf(&b, " | %s %d %s", e.ID, e.Unix, e.AnsweredByMemberID)
		if e.Listed != nil {
			fmt.Fprintf(&b, " %s %s %s", e.Listed.VisitedAt, e.Listed.Officer, e.Listed.AnsweredByName)
		}
	}
	return b.String()
}

// TestVisitSummariesEqualRecomputation is the visit summaries' property
// test: after random visit ops applied in random transactions, the
// summaries PutRecord kept equal SummarizeVisits recomputed from the visit
// records, after every transaction, and equal what RebuildReportRows
// makes from scratch. The seed is printed; RUHU_SEED reruns one.
func TestVisitSummariesEqualRecomputation(t *testing.T) {
	seed := rand.Uint64()
	if s := testingSeed(); s != 0 {
		seed = s
	}
	t.Logf("seed %d (RUHU_SEED=%d reruns it)", seed, seed)
	groups, unnamed := 0, 0
	for round := range 12 {
		rng := rand.New(rand.NewPCG(seed, uint64(round)))
		s, err := Open(filepath.Join(t.TempDir(), "ruhu.db"), Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		ops := randomVisitOps(rng, 50+rng.IntN(300))
		for len(ops) > 0 {
			batch := ops[:min(len(ops), 1+rng.IntN(30))]
			ops = ops[len(batch):]
			err := s.UpdateSolo(func(tx *Tx) error {
				for _, op := range batch {
					if _, err := syncengine.Apply(tx, op, syncengine.MergePolicy{}, op.ReceivedAt); err != nil && syncengine.ErrorCode(err) != syncengine.EINVALID {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("seed %d round %d: %v", seed, round, err)
			}
			compareSummaries(t, summariesKept(t, s), summariesFromRecords(t, s), fmt.Sprintf("seed %d round %d", seed, round))
		}
		kept := summariesKept(t, s)
		err = s.View(func(tx *Tx) error {
			return tx.ScanVisitSummaries("", func(_, _ []byte, sum *core.VisitSummary) error {
				groups, unnamed = groups+len(sum.Groups), unnamed+len(sum.Unnamed)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RebuildReportRows(); err != nil {
			t.Fatal(err)
		}
		compareSummaries(t, kept, summariesKept(t, s), fmt.Sprintf("seed %d round %d, rebuilt", seed, round))
		s.Close()
	}
	if groups == 0 || unnamed == 0 {
		t.Fatalf("seed %d: %d groups, %d unnamed visits: nothing compared", seed, groups, unnamed)
	}
}

// compareSummaries fails the test where two sets of shown summaries differ.
func compareSummaries(t *testing.T, kept, want map[string]string, what string) {
	t.Helper()
	keys := make([]string, 0, len(kept)+len(want))
	for k := range kept {
		keys = append(keys, k)
	}
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		if kept[k] != want[k] {
			t.Fatalf("%s: household %q: kept\n  %s\nrecomputed\n  %s", what, k, kept[k], want[k])
		}
	}
}

// TestVisitSummaryEncodingRoundTrips: a stored summary decodes to the
// summary it was made from, and a truncated one does not decode.
func TestVisitSummaryEncodingRoundTrips(t *testing.T) {
	visits := []VisitEntry{
		{ID: []byte("v2"), Unix: 1_780_000_000, AnsweredByMemberID: []byte(`"m1"`)},
		{ID: []byte("v1"), Unix: 1_780_000_000, AnsweredByMemberID: []byte(`"m1"`)},
		{ID: []byte("v3"), Unix: 1_700_000_000, AnsweredByMemberID: []byte(`"m2"`)},
		{ID: []byte("v4"), Unix: 1_790_000_000, AnsweredByMemberID: []byte(`""`),
			Listed: &core.ListedVisit{VisitedAt: []byte(`"2026-09-21T10:13:20+08:00"`), Officer: []byte(`"wang"`), AnsweredByName: []byte(`"王伟"`)}},
		{ID: []byte("v5"), Unix: -5, Listed: &core.ListedVisit{VisitedAt: []byte(`"1969-12-31T23:59:55Z"`)}},
	}
	sum := core.SummarizeVisits(visits)
	if len(sum.Groups) != 2 || len(sum.Unnamed) != 2 || string(sum.Groups[1].LastID) != "v1" || sum.MaxUnix != 1_790_000_000 {
		t.Fatalf("summary %s", showSummary(&sum))
	}
	stored := appendVisitSummary(nil, &sum)
	var r visitSummaryReader
	got, ok := r.decode(stored)
	if !ok || showSummary(got) != showSummary(&sum) {
		t.Fatalf("decoded %v %s, want %s", ok, showSummary(got), showSummary(&sum))
	}
	for n := range len(stored) {
		if _, ok := r.decode(stored[:n]); ok {
			t.Fatalf("a summary cut to %d of %d bytes decodes", n, len(stored))
		}
	}
}

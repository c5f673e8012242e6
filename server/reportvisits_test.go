package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/reports"
	"github.com/ruhu-dev/ruhu/server/reports/reportbench"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestTalliedReportEqualsRecords holds the report made from the period's
// reading of the store (visits tallied per household and year, only the
// visits the answerer rule judges listed) equal to the report made from
// the straightforward reading of every record, on a generated county with
// random edits on top: visits moved to other years, other households and
// other answerers, members removed (so that a member's answer turns into a
// stranger's), tombstones; for several periods, judging instants and area
// prefixes. The seed is printed; RUHU_SEED reruns one.
func TestTalliedReportEqualsRecords(t *testing.T) {
	seed := rand.Uint64()
	if s, err := strconv.ParseUint(os.Getenv("RUHU_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (RUHU_SEED=%d reruns it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	size := reportbench.Size{Townships: 2, VillagesPerTown: 3, Households: 200, Visits: 2500, Checkins: 300,
		HousingCases: 5, TeamMembersPerTeam: 2, Seed: seed}
	in := reportbench.Generate(size)
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "ruhu.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	received := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := reportbench.WriteStore(store, in, received); err != nil {
		t.Fatal(err)
	}
	area := map[string]string{}
	var memberIDs []string
	for _, h := range in.Households {
		area[h.ID] = h.Area
		for _, m := range h.Members {
			area[m.ID] = h.Area
			memberIDs = append(memberIDs, m.ID)
		}
	}
	cst := rules.Shanghai()
	err = store.UpdateSolo(func(tx *boltstore.Tx) error {
		for i := range 1500 {
			op := &syncengine.Op{ID: fmt.Sprintf("edit%d", i), Author: "edit", Device: "d2",
				HLC:        syncengine.MakeHLC(received.UnixMilli()+int64(i+1)*1000, 0),
				ReceivedAt: received, Set: map[string]json.RawMessage{}}
			set := func(field string, v any) {
				b, _ := json.Marshal(v)
				op.Set[field] = b
			}
			if rng.IntN(8) == 0 { // a member removed or moved to another household
				m := memberIDs[rng.IntN(len(memberIDs))]
				op.Collection, op.RecordID, op.Area = "members", m, area[m]
				if rng.IntN(2) == 0 {
					op.Tombstone, op.Set = &syncengine.Tombstone{Reason: "迁出"}, nil
				} else {
					set("household_id", in.Households[rng.IntN(len(in.Households))].ID)
				}
			} else {
				v := in.Visits[rng.IntN(len(in.Visits))]
				op.Collection, op.RecordID, op.Area = "visits", v.ID, area[v.HouseholdID]
				switch rng.IntN(7) {
				case 0:
					set("visited_at", time.Date(2024+rng.IntN(4), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), 0, 0, 0, cst).Format(time.RFC3339))
				case 1:
					set("visited_at", v.At.Add(time.Duration(rng.IntN(3)-1)*time.Second).UTC().Format(time.RFC3339))
				case 2:
					set("household_id", in.Households[rng.IntN(len(in.Households))].ID)
				case 3:
					set("answered_by_member_id", memberIDs[rng.IntN(len(memberIDs))])
				case 4:
					set("answered_by_member_id", "")
					set("answered_by_name", []string{"王伟", " 李芳 ", ""}[rng.IntN(3)])
				case 5:
					set("household_id", "not-a-household")
				default:
					op.Tombstone, op.Set = &syncengine.Tombstone{Reason: "录错"}, nil
				}
			}
			if _, err := syncengine.Apply(tx, op, syncengine.MergePolicy{}, received); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := rules.DefaultPolicies()
	if err != nil {
		t.Fatal(err)
	}
	tallies, listed := 0, 0
	for _, label := range []string{"2026H2", "2026Q3", "2026", "2026-11", "2025H2"} {
		period, err := rules.ParsePeriod(label)
		if err != nil {
			t.Fatal(err)
		}
		for _, asOf := range []time.Time{period.End.Add(40 * 24 * time.Hour), period.End.Add(-9 * 24 * time.Hour), period.Start.Add(time.Duration(rng.Int64N(int64(period.End.Sub(period.Start)))))} {
			for _, prefix := range []string{reportbench.CountyCode, reportbench.CountyCode + "002", reportbench.CountyCode + "001002"} {
				var indexed, unsummarized, rows, slow *rules.Input
				err := store.Core().View(func(ctx core.Tx) (err error) {
					tx := ctx.(server.Tx)
					if indexed, err = server.ReadReportInputFor(tx, server.EvidencePolicy{}, prefix, period, asOf, nil); err != nil {
						return err
					}
					if unsummarized, err = server.ReadReportInputFor(withoutSummaries{tx, tx.(core.VisitIndexTx)}, server.EvidencePolicy{}, prefix, period, asOf, nil); err != nil {
						return err
					}
					if rows, err = server.ReadReportInputFor(withoutVisitIndex{tx}, server.EvidencePolicy{}, prefix, period, asOf, nil); err != nil {
						return err
					}
					slow, err = server.ReadReportInputFromRecords(tx, server.EvidencePolicy{}, prefix, asOf)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				tallies += len(indexed.VisitTallies) + len(rows.VisitTallies)
				listed += len(indexed.Visits) + len(rows.Visits)
				var want bytes.Buffer
				if err := reports.WriteJSON(&want, reports.Compliance(slow, ps, prefix, period)); err != nil {
					t.Fatal(err)
				}
				// ComplianceReportWith reads in two transactions at once.
				r, err := server.ComplianceReportWith(store.Core(), ps, server.EvidencePolicy{}, prefix, period, asOf)
				if err != nil {
					t.Fatal(err)
				}
				var whole bytes.Buffer
				if err := reports.WriteJSON(&whole, r); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(whole.Bytes(), want.Bytes()) {
					t.Fatalf("seed %d, %s as of %v under %s: ComplianceReportWith differs:\n%s", seed, label, asOf, prefix,
						firstLineDiff(whole.String(), want.String()))
				}
				for _, in := range []*rules.Input{indexed, unsummarized, rows} {
					var got bytes.Buffer
					if err := reports.WriteJSON(&got, reports.Compliance(in, ps, prefix, period)); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got.Bytes(), want.Bytes()) {
						t.Fatalf("seed %d, %s as of %v under %s (summaries %v, index %v): the tallied report differs:\n%s", seed, label, asOf, prefix,
							in == indexed, in != rows, firstLineDiff(got.String(), want.String()))
					}
				}
			}
		}
	}
	if tallies == 0 || listed == 0 {
		t.Fatalf("seed %d: %d tallies and %d listed visits: nothing compared", seed, tallies, listed)
	}
}

// withoutVisitIndex hides a transaction's visit indexes
// (core.VisitIndexTx), as a store without them would have none.
type withoutVisitIndex struct{ server.Tx }

// withoutSummaries hides a transaction's visit summaries
// (core.VisitSummaryTx) but not its visit indexes, as a store keeping the
// indexes only would.
type withoutSummaries struct {
	server.Tx
	core.VisitIndexTx
}

// firstLineDiff shows where two JSON texts first differ, with context.
func firstLineDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-300)
	return fmt.Sprintf("tallied …%s\nrecords …%s", a[from:min(len(a), i+200)], b[from:min(len(b), i+200)])
}

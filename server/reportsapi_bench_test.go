package server_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/reports/reportbench"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// storeOf writes a generated input into a bbolt store as the records the
// server would hold.
func storeOf(b *testing.B, in *rules.Input) *boltstore.Store {
	b.Helper()
	store, err := boltstore.Open(filepath.Join(b.TempDir(), "ruhu.db"), boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	var ops []*syncengine.Op
	add := func(col, id, area string, set map[string]any) {
		ops = append(ops, &syncengine.Op{ID: fmt.Sprintf("b%d", len(ops)), RecordID: id, Collection: col, Area: area,
			Author: "bench", Device: "bench", HLC: syncengine.MakeHLC(int64(1e12)+int64(len(ops)), 0), Set: fields(set), ReceivedAt: time.Unix(1e9, 0)})
	}
	for _, v := range in.Villages {
		add("villages", "v"+v.Code, v.Code, map[string]any{"code": v.Code, "name": v.Name, "center": map[string]any{"lat": v.Lat, "lon": v.Lon}})
	}
	area := map[string]string{}
	for _, h := range in.Households {
		area[h.ID] = h.Area
		add("households", h.ID, h.Area, map[string]any{"head_name": h.HeadName, "status": map[string]any{"value": h.Status, "year": h.StatusYear}})
		for _, m := range h.Members {
			add("members", m.ID, h.Area, map[string]any{"household_id": h.ID, "name": m.Name})
		}
	}
	for i, a := range in.Assignments {
		add("assignments", fmt.Sprintf("a%d", i), area[a.HouseholdID], map[string]any{"officer": a.Officer, "household_id": a.HouseholdID, "active": a.Active})
	}
	for _, v := range in.Visits {
		set := map[string]any{"household_id": v.HouseholdID, "officer": v.Officer, "visited_at": v.At.Format(time.RFC3339)}
		if v.AnsweredByMemberID != "" {
			set["answered_by_member_id"] = v.AnsweredByMemberID
		} else {
			set["answered_by_name"] = v.AnsweredByName
		}
		add("visits", v.ID, area[v.HouseholdID], set)
	}
	for _, c := range in.Checkins {
		add("checkins", c.ID, c.VillageCode, map[string]any{"member": c.Member, "village_code": c.VillageCode, "at": c.At.Format(time.RFC3339),
			"gps": map[string]any{"lat": c.Lat, "lon": c.Lon, "accuracy_m": c.AccuracyM}})
	}
	for _, t := range in.Teams {
		add("teams", "t"+t.VillageCode, t.VillageCode, map[string]any{"village_code": t.VillageCode, "members": t.Members, "first_secretary": t.FirstSecretary})
	}
	for i := 0; i < len(ops); i += 5000 {
		batch := ops[i:min(i+5000, len(ops))]
		err := store.UpdateSolo(func(tx *boltstore.Tx) error {
			for _, op := range batch {
				if _, err := syncengine.Apply(tx, op, syncengine.MergePolicy{}, time.Unix(1e9, 0)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return store
}

// BenchmarkComplianceReportFromStore measures the report endpoint's work
// without HTTP: reading a tenth of the benchmark county (10,000
// households, 100,000 visits, 20,000 check-ins) from bbolt into the rules'
// input, then running the rules and the roll-up.
func BenchmarkComplianceReportFromStore(b *testing.B) {
	size := reportbench.County()
	size.Households, size.Visits, size.Checkins, size.HousingCases = 10_000, 100_000, 20_000, 0
	store := storeOf(b, reportbench.Generate(size))
	ps, err := rules.DefaultPolicies()
	if err != nil {
		b.Fatal(err)
	}
	p, _ := rules.ParsePeriod(reportbench.Period)
	b.ResetTimer()
	for b.Loop() {
		r, err := server.ComplianceReport(store, ps, reportbench.CountyCode, p, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(r.Summary.Total), "findings")
	}
}

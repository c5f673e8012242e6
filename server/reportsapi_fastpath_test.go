package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
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

// awkwardValues are field values of the shapes the fast readers of the
// report input take (times, GPS fixes, statuses, names) and of the shapes
// they must leave to encoding/json and time.Parse.
var awkwardValues = map[string][]string{
	"time": {`"2026-08-01T10:00:00Z"`, `"2026-08-01T10:00:00+08:00"`, `"2026-08-01T10:00:00.5+08:00"`,
		`"2026-08-01T10:00:00-05:30"`, `"2026-08-01T10:00:00+00:00"`, `"2026-08-01T10:00:00-00:00"`,
		`"2026-13-01T00:00:00+08:00"`, `"2026-02-30T10:00:00+08:00"`, `"2026-08-01 10:00:00+08:00"`,
		`"2026-08-01T24:00:00Z"`, `"2026-08-01T10:00:60Z"`, `"2026-08-01"`, `7`, `null`,
		`"2026-08-01T10:00:00\u002B08:00"`},
	"gps": {`{"lat":32.3,"lon":118.5,"accuracy_m":8}`, `{"lat":32.3,"lon":118.5}`, `{ "lat": 32.3, "lon": 118.5 }`,
		`{"LAT":32.3,"Lon":118.5,"accuracy_m":8}`, `{"lat":"32.3","lon":118.5}`, `{"lat":1e400,"lon":1}`,
		`{"lat":-0.0,"lon":1E2,"accuracy_m":0.5e1}`, `{"lat":null,"lon":2}`, `{"lat":1,"lon":2,"alt":3}`,
		`{"lat":1,"lat":2}`, `[1,2]`, `"x"`, `{}`},
	"status": {`{"value":"exited","year":2018}`, `{"year":2019,"value":"poor"}`, `{"value":"exited"}`,
		`{"value":"exited","year":2018.0}`, `{"value":"ex\u0069ted","year":2017}`, `{"value":"monitored","year":-0}`,
		`{"Value":"exited","YEAR":2016}`, `{"value":"","year":2016}`, `{"value":7}`, `null`},
	"name": {`"王伟"`, `" 王伟 "`, `"王\"伟"`, `""`, `null`, `12`},
}

// TestReportInputFromProjectionEqualsRecords holds the fast reading of the
// report input (the store's projection, shared strings, hand-written
// parsers) equal to the straightforward reading of the records, on a
// generated county with random edits, tombstones and awkward values on
// top, under several area prefixes, and the reports made from both equal.
// The seed is printed; RUHU_SEED reruns one.
func TestReportInputFromProjectionEqualsRecords(t *testing.T) {
	seed := rand.Uint64()
	if s, err := strconv.ParseUint(os.Getenv("RUHU_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (RUHU_SEED=%d reruns it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	size := reportbench.Size{Townships: 2, VillagesPerTown: 3, Households: 300, Visits: 3000, Checkins: 900,
		HousingCases: 20, TeamMembersPerTeam: 3, Seed: seed}
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
	// Random edits over the written records: awkward values, tombstones,
	// later stamps (which win) and earlier ones (which lose).
	type target struct{ col, id, area, field, kind string }
	var targets []target
	for _, v := range in.Visits {
		targets = append(targets, target{"visits", v.ID, "", "visited_at", "time"}, target{"visits", v.ID, "", "answered_by_name", "name"})
	}
	for _, c := range in.Checkins {
		targets = append(targets, target{"checkins", c.ID, c.VillageCode, "gps", "gps"}, target{"checkins", c.ID, c.VillageCode, "at", "time"})
	}
	area := map[string]string{}
	for _, h := range in.Households {
		area[h.ID] = h.Area
		targets = append(targets, target{"households", h.ID, h.Area, "status", "status"})
		for _, m := range h.Members {
			targets = append(targets, target{"members", m.ID, h.Area, "name", "name"})
		}
	}
	for _, v := range in.Visits {
		area[v.ID] = area[v.HouseholdID]
	}
	err = store.UpdateSolo(func(tx *boltstore.Tx) error {
		for i := range 2000 {
			tg := targets[rng.IntN(len(targets))]
			if tg.area == "" {
				tg.area = area[tg.id]
			}
			op := &syncengine.Op{ID: fmt.Sprintf("edit%d", i), RecordID: tg.id, Collection: tg.col, Area: tg.area,
				Author: "edit", Device: "d2", HLC: syncengine.MakeHLC(received.UnixMilli()+int64(rng.IntN(2000)-1000)*1000, 0),
				ReceivedAt: received.Add(time.Duration(rng.IntN(1000)) * time.Second)}
			if rng.IntN(20) == 0 {
				op.Tombstone = &syncengine.Tombstone{Reason: "录错"}
			} else {
				vals := awkwardValues[tg.kind]
				op.Set = map[string]json.RawMessage{tg.field: json.RawMessage(vals[rng.IntN(len(vals))])}
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
	period, _ := rules.ParsePeriod(reportbench.Period)
	for _, prefix := range []string{reportbench.CountyCode, reportbench.CountyCode + "001", reportbench.CountyCode + "002003", "35"} {
		var fast, slow *rules.Input
		err := store.Core().View(func(ctx core.Tx) (err error) {
			tx := ctx.(server.Tx)
			if fast, err = server.ReadReportInputWith(tx, server.EvidencePolicy{}, prefix, received); err != nil {
				return err
			}
			slow, err = server.ReadReportInputFromRecords(tx, server.EvidencePolicy{}, prefix, received)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if prefix == reportbench.CountyCode && (len(fast.Visits) < 2000 || len(fast.Checkins) < 500) {
			t.Fatalf("seed %d: only %d visits and %d check-ins read", seed, len(fast.Visits), len(fast.Checkins))
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("seed %d, area %s: the projection's input differs from the records':\n%s", seed, prefix, firstDifference(fast, slow))
		}
		var a, b bytes.Buffer
		if err := reports.WriteJSON(&a, reports.Compliance(fast, ps, prefix, period)); err != nil {
			t.Fatal(err)
		}
		if err := reports.WriteJSON(&b, reports.Compliance(slow, ps, prefix, period)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("seed %d, area %s: reports differ", seed, prefix)
		}
	}
}

// firstDifference names the first list and element where two inputs
// differ.
func firstDifference(a, b *rules.Input) string {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range va.NumField() {
		fa, fb := va.Field(i), vb.Field(i)
		if reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			continue
		}
		name := va.Type().Field(i).Name
		if fa.Kind() != reflect.Slice {
			return fmt.Sprintf("%s: %v vs %v", name, fa.Interface(), fb.Interface())
		}
		if fa.Len() != fb.Len() {
			return fmt.Sprintf("%s: %d vs %d elements", name, fa.Len(), fb.Len())
		}
		for j := range fa.Len() {
			if !reflect.DeepEqual(fa.Index(j).Interface(), fb.Index(j).Interface()) {
				return fmt.Sprintf("%s[%d]: %+v\nvs %+v", name, j, fa.Index(j).Interface(), fb.Index(j).Interface())
			}
		}
	}
	return "no difference found"
}

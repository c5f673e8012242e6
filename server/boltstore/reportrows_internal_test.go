package boltstore

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// randomOps makes n ops over a few records of projected and unprojected
// collections: field values of every JSON shape (escaped strings too,
// which send the rebuild down ScanRecordsIn's slow path), stamps out of
// order (so some ops lose merges), tombstones, re-sent ops, receipt
// times that vary.
func randomOps(rng *rand.Rand, n int) []*syncengine.Op {
	cols := []string{"visits", "checkins", "households", "duty_days", "members", "notes"}
	areas := []string{"340199001001", "340199001002", "340188002001"}
	ids := []string{"r1", "r2", "r3", `q"uote`, "é/x", "r10"}
	authors := []string{"wang", "li", `zh"ang`}
	values := []string{`"a"`, `"2026-07-01T08:00:00+08:00"`, `"esc\"aped\\"`, `12`, `-3.5e2`, `true`, `null`,
		`{"lat":32.1,"lon":118.2,"accuracy_m":10}`, `{"value":"exited","year":2018}`, `["x","y"]`, `"\u738b"`}
	area := map[string]string{}
	var ops []*syncengine.Op
	for i := range n {
		if i > 0 && rng.IntN(15) == 0 { // a re-sent op: changes nothing
			ops = append(ops, ops[rng.IntN(len(ops))])
			continue
		}
		col, id := cols[rng.IntN(len(cols))], ids[rng.IntN(len(ids))]
		key := col + "/" + id
		if area[key] == "" {
			area[key] = areas[rng.IntN(len(areas))]
		}
		op := &syncengine.Op{ID: fmt.Sprintf("op%04d", i), RecordID: id, Collection: col, Area: area[key],
			Author: authors[rng.IntN(len(authors))], Device: "d1",
			HLC:        syncengine.MakeHLC(1_700_000_000_000+int64(rng.IntN(500)), 0),
			ReceivedAt: time.UnixMilli(1_700_000_000_000 + int64(rng.IntN(1_000_000))).UTC(),
			Set:        map[string]json.RawMessage{}}
		if rng.IntN(12) == 0 {
			op.Tombstone = &syncengine.Tombstone{Reason: "重复"}
		} else {
			names := []string{"extra"}
			for _, f := range ReportFields(col) {
				names = append(names, f.Name)
			}
			if col == "notes" {
				names = append(names, "at", "visited_at")
			}
			if col == "visits" {
				names = append(names, visitIndexExtra...)
			}
			for _, name := range names {
				if rng.IntN(2) == 0 {
					op.Set[name] = json.RawMessage(values[rng.IntN(len(values))])
				}
			}
			if len(op.Set) == 0 {
				op.Set["extra"] = json.RawMessage(`1`)
			}
		}
		ops = append(ops, op)
	}
	return ops
}

// reportRows returns every row of the projection by key, and every row
// count by "count " and its key.
func reportRows(t *testing.T, s *Store) map[string]string {
	t.Helper()
	rows := map[string]string{}
	err := s.View(func(tx *Tx) error {
		err := tx.tx.Bucket(bucketReportRows).ForEach(func(k, v []byte) error {
			rows[string(k)] = string(v)
			return nil
		})
		if err != nil {
			return err
		}
		for _, b := range [][]byte{bucketReportCounts, bucketVisitsByHousehold, bucketVisitPhotos, bucketVisitSummaries} {
			err := tx.tx.Bucket(b).ForEach(func(k, v []byte) error {
				rows[string(b)+" "+string(k)] = string(v)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestReportRowsEqualRecomputation is the projection's property test:
// after random ops applied in random transactions, the rows PutRecord
// kept equal a full recomputation from the records (RebuildReportRows),
// and reading them with ScanReportRows gives what ScanRecordsIn reads
// from the records, with receipt times as history has them. The seed is
// printed; rerun one with RUHU_SEED.
func TestReportRowsEqualRecomputation(t *testing.T) {
	seed := rand.Uint64()
	if s := testingSeed(); s != 0 {
		seed = s
	}
	t.Logf("seed %d (RUHU_SEED=%d reruns it)", seed, seed)
	for round := range 20 {
		rng := rand.New(rand.NewPCG(seed, uint64(round)))
		s, err := Open(filepath.Join(t.TempDir(), "ruhu.db"), Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		ops := randomOps(rng, 50+rng.IntN(250))
		for len(ops) > 0 {
			batch := ops[:min(len(ops), 1+rng.IntN(40))]
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
		}
		kept := reportRows(t, s)
		if len(kept) == 0 {
			t.Fatalf("seed %d round %d: no rows kept", seed, round)
		}
		if err := s.RebuildReportRows(); err != nil {
			t.Fatal(err)
		}
		rebuilt := reportRows(t, s)
		for k, v := range kept {
			if rebuilt[k] != v {
				t.Errorf("seed %d round %d: row %s kept %q, recomputed %q", seed, round, k, v, rebuilt[k])
			}
		}
		for k := range rebuilt {
			if _, ok := kept[k]; !ok {
				t.Errorf("seed %d round %d: row %s recomputed but not kept", seed, round, k)
			}
		}
		for _, col := range []string{"visits", "checkins", "households", "duty_days", "members"} {
			for _, prefix := range []string{"", "340199", "340199001002", "35"} {
				compareScans(t, s, col, prefix, fmt.Sprintf("seed %d round %d %s under %q", seed, round, col, prefix))
			}
		}
		for _, prefix := range []string{"", "340199", "340199001002", "35"} {
			compareVisitIndexes(t, s, prefix, fmt.Sprintf("seed %d round %d visit indexes under %q", seed, round, prefix))
		}
		s.Close()
	}
}

// testingSeed reads RUHU_SEED.
func testingSeed() uint64 {
	var seed uint64
	fmt.Sscan(strings.TrimSpace(os.Getenv("RUHU_SEED")), &seed)
	return seed
}

// compareScans holds ScanReportRows equal to ScanRecordsIn for every
// field of a collection's projection.
func compareScans(t *testing.T, s *Store, col, prefix, what string) {
	t.Helper()
	spec := ReportFields(col)
	want := make([]string, len(spec))
	for i, f := range spec {
		want[i] = f.Name
	}
	type row struct {
		id, area string
		fields   []string
	}
	show := func(tx *Tx, id, area string, fs []FieldView, fromRecords bool) (row, error) {
		r := row{id: id, area: area}
		for i, f := range fs {
			var parts []string
			parts = append(parts, string(f.Value))
			if f.Value != nil && spec[i].HLC {
				parts = append(parts, fmt.Sprint(f.HLC))
			}
			if f.Value != nil && spec[i].Author {
				parts = append(parts, string(f.Author))
			}
			if f.Value != nil && spec[i].Received {
				at := f.Received
				if fromRecords {
					var found bool
					var err error
					if at, found, err = tx.OpReceivedAt(string(f.OpID)); err != nil {
						return r, err
					} else if !found {
						at = f.HLC.Time()
					}
				}
				parts = append(parts, at.Format(time.RFC3339Nano))
			}
			r.fields = append(r.fields, strings.Join(parts, "|"))
		}
		return r, nil
	}
	var fromRecords, fromRows []row
	err := s.View(func(tx *Tx) error {
		err := tx.ScanRecordsIn(col, prefix, want, func(id, area string, fs []FieldView) error {
			r, err := show(tx, id, area, fs, true)
			fromRecords = append(fromRecords, r)
			return err
		})
		if err != nil {
			return err
		}
		n, err := tx.CountReportRows(col, prefix)
		if err != nil {
			return err
		}
		err = tx.ScanReportRows(col, prefix, want, func(id, area string, fs []FieldView) error {
			r, err := show(tx, id, area, fs, false)
			fromRows = append(fromRows, r)
			return err
		})
		if n != len(fromRows) {
			t.Errorf("%s: CountReportRows %d, ScanReportRows showed %d", what, n, len(fromRows))
		}
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if fmt.Sprint(fromRecords) != fmt.Sprint(fromRows) {
		t.Errorf("%s:\nrecords %v\nrows    %v", what, fromRecords, fromRows)
	}
}

// TestOpenBuildsMissingProjection: a file written before the projection
// existed (no rows, no version mark) gets its rows when opened.
func TestOpenBuildsMissingProjection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ruhu.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	op := &syncengine.Op{ID: "o1", RecordID: "v1", Collection: "visits", Area: "340199001001", Author: "wang", Device: "d1",
		HLC: syncengine.MakeHLC(1_700_000_000_000, 0), ReceivedAt: time.UnixMilli(1_700_000_000_000),
		Set: map[string]json.RawMessage{"household_id": json.RawMessage(`"h1"`), "notes": json.RawMessage(`"long text"`)}}
	err = s.UpdateSolo(func(tx *Tx) error {
		_, err := syncengine.Apply(tx, op, syncengine.MergePolicy{}, op.ReceivedAt)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	before := reportRows(t, s)
	err = s.UpdateSolo(func(tx *Tx) error { // the file as an older ruhu left it
		if err := tx.tx.DeleteBucket(bucketReportRows); err != nil {
			return err
		}
		return tx.tx.Bucket(bucketMeta).Delete(keyReportRows)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	after := reportRows(t, s)
	if len(before) != 2 || fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("rows before %q, after reopening %q", before, after)
	}
	if bytes.Contains([]byte(after["visits/v1"]), []byte("long text")) {
		t.Fatalf("a field reports do not read was projected: %q", after["visits/v1"])
	}
}

// TestScanReportRowsRefusesUnprojected: reading a field the projection
// does not keep is an error, not a silent empty value.
func TestScanReportRowsRefusesUnprojected(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "ruhu.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		col  string
		want []string
	}{
		{"visits", []string{"household_id", "notes"}},
		{"notes", []string{"text"}},
	}
	for _, tc := range tests {
		err := s.View(func(tx *Tx) error {
			return tx.ScanReportRows(tc.col, "", tc.want, func(string, string, []FieldView) error { return nil })
		})
		if err == nil || !strings.Contains(err.Error(), "not projected") {
			t.Errorf("%s %v: got %v, want a not projected error", tc.col, tc.want, err)
		}
	}
}

// compareVisitIndexes holds ScanVisitsByHousehold and ScanVisitPhotos
// equal to what they stand for, read from the records with ScanRecordsIn:
// every live visit with a household and an RFC 3339 visited_at, grouped
// by area and household, and every live visit whose photo_sha256s may
// name a photo, with its fields.
func compareVisitIndexes(t *testing.T, s *Store, prefix, what string) {
	t.Helper()
	var wantHH, gotHH, wantPhotos, gotPhotos []string
	err := s.View(func(tx *Tx) error {
		type entry struct{ area, household, id, line string }
		var entries []entry
		err := tx.ScanRecordsIn("visits", prefix, []string{"visited_at", "household_id", "answered_by_member_id", "gps", "photo_sha256s", "answered_by_name", "officer"},
			func(id, area string, f []FieldView) error {
				hh, _ := jsonText(f[1].Value)
				at, _ := jsonText(f[0].Value)
				if ts, err := time.Parse(time.RFC3339, at); err == nil && hh != "" {
					line := fmt.Sprintf("%s|%s|%s|%d|%s", area, hh, id, ts.Unix(), f[2].Value)
					if member, _ := jsonText(f[2].Value); member == "" {
						line += fmt.Sprintf("|listed %s|%s|%s", f[0].Value, f[6].Value, f[5].Value)
					}
					entries = append(entries, entry{area, hh, id, line})
				}
				if citesPhotos(f[4].Value) {
					wantPhotos = append(wantPhotos, fmt.Sprintf("%s|%s|%s|%s|%s|%s", area, id, f[1].Value, f[0].Value, f[3].Value, f[4].Value))
				}
				return nil
			})
		if err != nil {
			return err
		}
		slices.SortFunc(entries, func(a, b entry) int {
			return cmp.Or(cmp.Compare(a.area, b.area), cmp.Compare(len(a.household), len(b.household)), cmp.Compare(a.household, b.household), cmp.Compare(a.id, b.id))
		})
		for _, e := range entries {
			wantHH = append(wantHH, e.line)
		}
		slices.Sort(wantPhotos)
		err = tx.ScanVisitsByHousehold(prefix, func(area, household []byte, visits []VisitEntry) error {
			for _, v := range visits {
				line := fmt.Sprintf("%s|%s|%s|%d|%s", area, household, v.ID, v.Unix, v.AnsweredByMemberID)
				if v.Listed != nil {
					line += fmt.Sprintf("|listed %s|%s|%s", v.Listed.VisitedAt, v.Listed.Officer, v.Listed.AnsweredByName)
				}
				gotHH = append(gotHH, line)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.ScanVisitPhotos(prefix, func(id, area string, f []FieldView) error {
			gotPhotos = append(gotPhotos, fmt.Sprintf("%s|%s|%s|%s|%s|%s", area, id, f[0].Value, f[1].Value, f[2].Value, f[3].Value))
			return nil
		})
	})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	slices.Sort(gotPhotos)
	if fmt.Sprint(wantHH) != fmt.Sprint(gotHH) {
		t.Errorf("%s: by household\nrecords %v\nindex   %v", what, wantHH, gotHH)
	}
	if fmt.Sprint(wantPhotos) != fmt.Sprint(gotPhotos) {
		t.Errorf("%s: photos\nrecords %v\nindex   %v", what, wantPhotos, gotPhotos)
	}
}

package findings_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/assets/findings"
)

func TestDistanceMetres(t *testing.T) {
	tests := []struct {
		name string
		a, b findings.LatLon
		want float64
		tol  float64
	}{
		{"same point", findings.LatLon{Lat: 31.2, Lon: 121.5}, findings.LatLon{Lat: 31.2, Lon: 121.5}, 0, 1e-9},
		{"one degree of latitude", findings.LatLon{Lat: 30, Lon: 110}, findings.LatLon{Lat: 31, Lon: 110}, 111195, 1},
		{"Beijing to Shanghai", findings.LatLon{Lat: 39.9042, Lon: 116.4074}, findings.LatLon{Lat: 31.2304, Lon: 121.4737}, 1067000, 3000},
		{"antipodes", findings.LatLon{Lat: 0, Lon: 0}, findings.LatLon{Lat: 0, Lon: 180}, math.Pi * 6371008.8, 1},
	}
	for _, tc := range tests {
		got := findings.DistanceMetres(tc.a, tc.b)
		if math.Abs(got-tc.want) > tc.tol {
			t.Errorf("%s: %.1f m, want %.1f ± %.1f", tc.name, got, tc.want, tc.tol)
		}
		if back := findings.DistanceMetres(tc.b, tc.a); math.Abs(back-got) > 1e-6 {
			t.Errorf("%s: not symmetric (%f vs %f)", tc.name, got, back)
		}
	}
}

// north returns the point m metres north of p.
func north(p findings.LatLon, m float64) *findings.LatLon {
	return &findings.LatLon{Lat: p.Lat + m/111195.08, Lon: p.Lon}
}

var (
	village = findings.LatLon{Lat: 30.5, Lon: 104.1}
	noon    = time.Date(2024, 5, 1, 12, 0, 0, 0, time.FixedZone("CST", 8*3600))
)

func kinds(fs []findings.Finding) []findings.Kind {
	var out []findings.Kind
	for _, f := range fs {
		out = append(out, f.Kind)
	}
	return out
}

func TestChecks(t *testing.T) {
	tests := []struct {
		name   string
		photos []findings.Photo
		want   []findings.Kind
	}{
		{"near duplicate at the threshold, two households",
			[]findings.Photo{
				{ID: "p1", HouseholdID: "h1", PHash: 0, HasPHash: true},
				{ID: "p2", HouseholdID: "h2", PHash: 0b111111, HasPHash: true},
			}, []findings.Kind{findings.ReusedPhoto}},
		{"one bit beyond the threshold",
			[]findings.Photo{
				{ID: "p1", HouseholdID: "h1", PHash: 0, HasPHash: true},
				{ID: "p2", HouseholdID: "h2", PHash: 0b1111111, HasPHash: true},
			}, nil},
		{"same photo, same household is not reuse",
			[]findings.Photo{
				{ID: "p1", HouseholdID: "h1", PHash: 42, HasPHash: true},
				{ID: "p2", HouseholdID: "h1", PHash: 42, HasPHash: true},
			}, nil},
		{"identical bytes without a hash yet",
			[]findings.Photo{
				{ID: "p1", HouseholdID: "h1", SHA256: "aa"},
				{ID: "p2", HouseholdID: "h2", SHA256: "aa"},
			}, []findings.Kind{findings.ReusedPhoto}},
		{"unprocessed photos with zero hashes are not matched",
			[]findings.Photo{{ID: "p1", HouseholdID: "h1"}, {ID: "p2", HouseholdID: "h2"}}, nil},
		{"EXIF time exactly at tolerance",
			[]findings.Photo{{ID: "p1", HouseholdID: "h1", RecordTime: noon, EXIFTime: noon.Add(-10 * time.Minute)}}, nil},
		{"EXIF time one second beyond tolerance",
			[]findings.Photo{{ID: "p1", HouseholdID: "h1", RecordTime: noon, EXIFTime: noon.Add(10*time.Minute + time.Second)}},
			[]findings.Kind{findings.EXIFTimeMismatch}},
		{"EXIF time unknown",
			[]findings.Photo{{ID: "p1", HouseholdID: "h1", RecordTime: noon}}, nil},
		{"EXIF GPS 199 m away",
			[]findings.Photo{{ID: "p1", HouseholdID: "h1", RecordGPS: &village, EXIFGPS: north(village, 199)}}, nil},
		{"EXIF GPS 201 m away",
			[]findings.Photo{{ID: "p1", HouseholdID: "h1", RecordGPS: &village, EXIFGPS: north(village, 201)}},
			[]findings.Kind{findings.EXIFGPSMismatch}},
		{"after taken before before",
			[]findings.Photo{
				{ID: "b", HouseholdID: "h1", CaseID: "c1", Stage: findings.Before, EXIFTime: noon},
				{ID: "a", HouseholdID: "h1", CaseID: "c1", Stage: findings.After, EXIFTime: noon.Add(-time.Second)},
			}, []findings.Kind{findings.AfterBeforeBefore}},
		{"after taken at the same second as before",
			[]findings.Photo{
				{ID: "b", HouseholdID: "h1", CaseID: "c1", Stage: findings.Before, EXIFTime: noon},
				{ID: "a", HouseholdID: "h1", CaseID: "c1", Stage: findings.After, RecordTime: noon},
			}, nil},
		{"before and after of different cases are not compared",
			[]findings.Photo{
				{ID: "b", HouseholdID: "h1", CaseID: "c1", Stage: findings.Before, EXIFTime: noon, EXIFGPS: &village},
				{ID: "a", HouseholdID: "h2", CaseID: "c2", Stage: findings.After, EXIFTime: noon.Add(-time.Hour), EXIFGPS: north(village, 5000)},
			}, nil},
		{"before and after 101 m apart",
			[]findings.Photo{
				{ID: "b", HouseholdID: "h1", CaseID: "c1", Stage: findings.Before, RecordGPS: &village},
				{ID: "a", HouseholdID: "h1", CaseID: "c1", Stage: findings.After, EXIFGPS: north(village, 101)},
			}, []findings.Kind{findings.BeforeAfterFarApart}},
		{"before and after 99 m apart",
			[]findings.Photo{
				{ID: "b", HouseholdID: "h1", CaseID: "c1", Stage: findings.Before, RecordGPS: &village},
				{ID: "a", HouseholdID: "h1", CaseID: "c1", Stage: findings.After, EXIFGPS: north(village, 99)},
			}, nil},
		{"during photos are not before/after",
			[]findings.Photo{
				{ID: "b", HouseholdID: "h1", CaseID: "c1", Stage: findings.During, EXIFTime: noon, EXIFGPS: &village},
				{ID: "a", HouseholdID: "h1", CaseID: "c1", Stage: findings.After, EXIFTime: noon.Add(-time.Hour), EXIFGPS: north(village, 500)},
			}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := findings.Check(tc.photos, findings.Policy{})
			if !slices.Equal(kinds(got), tc.want) {
				t.Fatalf("kinds = %v, want %v (%+v)", kinds(got), tc.want, got)
			}
			for _, f := range got {
				if f.Title == "" || f.Title == string(f.Kind) || f.Detail == "" || len(f.PhotoIDs) == 0 || len(f.HouseholdIDs) == 0 {
					t.Errorf("finding lacks title, detail or evidence: %+v", f)
				}
			}
		})
	}
}

func TestFindingEvidence(t *testing.T) {
	photos := []findings.Photo{
		{ID: "p9", HouseholdID: "h2", PHash: 0b101, HasPHash: true},
		{ID: "p1", HouseholdID: "h1", PHash: 0, HasPHash: true},
		{ID: "b", HouseholdID: "h3", CaseID: "c7", Stage: findings.Before, EXIFTime: noon, EXIFGPS: &village},
		{ID: "a", HouseholdID: "h3", CaseID: "c7", Stage: findings.After, EXIFTime: noon.Add(-2 * time.Hour), EXIFGPS: north(village, 1000)},
	}
	got := findings.Check(photos, findings.Policy{})
	if len(got) != 3 {
		t.Fatalf("got %d findings: %+v", len(got), got)
	}
	byKind := map[findings.Kind]findings.Finding{}
	for _, f := range got {
		byKind[f.Kind] = f
	}
	r := byKind[findings.ReusedPhoto]
	if !slices.Equal(r.PhotoIDs, []string{"p1", "p9"}) || !slices.Equal(r.HouseholdIDs, []string{"h1", "h2"}) || r.HashBits != 2 {
		t.Errorf("reused_photo evidence = %+v", r)
	}
	o := byKind[findings.AfterBeforeBefore]
	if !slices.Equal(o.PhotoIDs, []string{"b", "a"}) || o.CaseID != "c7" || o.Delta != 2*time.Hour {
		t.Errorf("after_before_before evidence = %+v", o)
	}
	far := byKind[findings.BeforeAfterFarApart]
	if math.Abs(far.Metres-1000) > 1 || far.CaseID != "c7" {
		t.Errorf("before_after_far_apart evidence = %+v", far)
	}
	// Stable: the same input in another order gives the same findings.
	slices.Reverse(photos)
	again := findings.Check(photos, findings.Policy{})
	for i := range got {
		if got[i].Kind != again[i].Kind || !slices.Equal(got[i].PhotoIDs, again[i].PhotoIDs) {
			t.Fatalf("order depends on input order: %+v vs %+v", got[i], again[i])
		}
	}
}

func TestPolicyOverridesDefaults(t *testing.T) {
	photos := []findings.Photo{{ID: "p1", HouseholdID: "h1", RecordTime: noon, EXIFTime: noon.Add(5 * time.Minute),
		RecordGPS: &village, EXIFGPS: north(village, 150)}}
	if got := findings.Check(photos, findings.Policy{}); len(got) != 0 {
		t.Fatalf("defaults: %v", kinds(got))
	}
	strict := findings.Policy{TimeTolerance: 4 * time.Minute, GPSToleranceMetres: 100}
	if got := kinds(findings.Check(photos, strict)); !slices.Equal(got, []findings.Kind{findings.EXIFGPSMismatch, findings.EXIFTimeMismatch}) {
		t.Fatalf("strict policy: %v", got)
	}
}

// TestIndexMatchesBruteForce compares the multi-index search with checking
// every pair, on random hashes plus planted near copies.
func TestIndexMatchesBruteForce(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, radius := range []int{0, 3, 6, 10} {
		var hashes []uint64
		for range 2000 {
			h := rng.Uint64()
			hashes = append(hashes, h)
			if rng.IntN(4) == 0 { // a near copy
				for range rng.IntN(radius + 3) {
					h ^= 1 << rng.IntN(64)
				}
				hashes = append(hashes, h)
			}
		}
		idx := findings.NewIndex(radius)
		for i, h := range hashes {
			idx.Add(i, h)
		}
		for i, h := range hashes {
			var want []int
			for j, o := range hashes {
				if d := bitsApart(h, o); d <= radius {
					want = append(want, j)
				}
			}
			got := idx.Near(h)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("radius %d, hash %d: Near = %v, brute force = %v (seed %d)", radius, i, got, want, seed)
			}
		}
	}
}

func bitsApart(a, b uint64) int {
	n := 0
	for x := a ^ b; x != 0; x &= x - 1 {
		n++
	}
	return n
}

func BenchmarkNearDuplicates100k(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	photos := make([]findings.Photo, 100_000)
	for i := range photos {
		photos[i] = findings.Photo{ID: strconv.Itoa(i), HouseholdID: strconv.Itoa(i % 5000), PHash: rng.Uint64(), HasPHash: true}
	}
	for b.Loop() {
		findings.Check(photos, findings.Policy{})
	}
}

package uploadbench

import "testing"

// TestRunMeasures runs a fast link (the figures come from the default
// 50 kbit/s run, which takes about half a minute): every photo arrives and
// the figures are consistent with the cuts.
func TestRunMeasures(t *testing.T) {
	r, err := Run(t.Context(), Options{BitsPerSecond: 8 << 20, Photos: 2, CutMin: 4 << 10, CutMax: 16 << 10, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.Cuts == 0 || r.Sent < r.Bytes || r.ThroughputKBps <= 0 {
		t.Errorf("inconsistent result %+v", r)
	}
	if limit := r.Bytes*12/10 + int64(r.Cuts)*(32<<10); r.Sent > limit {
		t.Errorf("sent %d, more than 1.2 × bytes + one chunk per cut (%d)", r.Sent, limit)
	}
}

func BenchmarkUpload2G(b *testing.B) {
	for b.Loop() {
		r, err := Run(b.Context(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.ResentRatio, "resent/byte")
		b.ReportMetric(r.ThroughputKBps, "kB/s")
	}
}

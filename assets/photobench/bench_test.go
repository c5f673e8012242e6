package photobench_test

import (
	"context"
	"testing"

	"github.com/ruhu-dev/ruhu/assets/photobench"
)

func TestMeasureReportsFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("processes a 12 MP photo several times")
	}
	r, err := photobench.Measure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.WallMS <= 0 || r.CPUMS <= 0 || r.PeakRSSMB <= 0 || r.Bytes < 1<<20 {
		t.Fatalf("Measure = %+v; want positive figures and a photo of realistic size", r)
	}
	t.Logf("12 MP photo (%d bytes): median wall %.1f ms, CPU %.1f ms, peak RSS %.1f MiB", r.Bytes, r.WallMS, r.CPUMS, r.PeakRSSMB)
}

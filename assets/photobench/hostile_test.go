package photobench_test

import (
	"bytes"
	"image/color"
	"image/png"
	"testing"

	"github.com/ruhu-dev/ruhu/assets/photo"
	"github.com/ruhu-dev/ruhu/assets/photobench"
)

func TestHostilePNGsAreTheProbe(t *testing.T) {
	pngs, err := photobench.HostilePNGs(700, 500, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(pngs[0], pngs[1]) {
		t.Fatal("two seeds gave the same bytes")
	}
	for _, b := range pngs {
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds().Dx() != 700 || img.Bounds().Dy() != 500 || img.ColorModel() != color.NRGBA64Model {
			t.Errorf("decoded %v %T", img.Bounds(), img)
		}
	}
}

// TestHostilePNGsStayWithinMemory reproduces issue 10, bug 4: two valid
// 7000×7000 16-bit RGBA PNGs (381 KB each) processed back to back held
// 392 MB each. Under the default memory budget they are refused before
// decoding, and the peak stays far below the server's 300 MB bound.
func TestHostilePNGsStayWithinMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("generates two 7000×7000 PNGs")
	}
	peak, err := photobench.HostilePeakRSSMB(t.Context(), photo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if peak == 0 {
		t.Skip("no /proc: peak RSS unknown")
	}
	t.Logf("peak RSS with the default budget: %.0f MiB", peak)
	if peak > 200 {
		t.Errorf("peak RSS %.0f MiB processing two hostile PNGs; the budget should keep it near the baseline", peak)
	}
}

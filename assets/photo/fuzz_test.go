package photo_test

import (
	"bytes"
	"errors"
	"image/jpeg"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/assets/photo"
	"github.com/ruhu-dev/ruhu/assets/photobench"
)

func fuzzSeeds(f *testing.F) {
	small := encodeJPEG(f, photobench.Scene(96, 64, 1), 80)
	f.Add(small)
	f.Add(small[:len(small)/2])
	f.Add(photobench.WithEXIF(small, 6, "2024:03:05 14:30:00", shanghaiLat, shanghaiLon))
	f.Add(encodePNG(f, halves(40, 30)))
	f.Add(pngBomb(100000, 100000))
	f.Add(pngBomb(300, 200))
	f.Add([]byte("not an image"))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x08, 'E', 'x', 'i', 'f', 0, 0})
}

// FuzzProcess feeds arbitrary bytes to the upload entry point. It must
// never panic, must fail only with the package's errors, and must keep to
// the pixel limit (set low here so a hostile header cannot make the fuzzer
// allocate gigabytes).
func FuzzProcess(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := photo.Options{MaxPixels: 1 << 20}
		p, err := photo.Process(data, opts)
		if err != nil {
			if !errors.Is(err, photo.ErrUnsupportedType) && !errors.Is(err, photo.ErrTooManyPixels) && !errors.Is(err, photo.ErrCorrupt) {
				t.Fatalf("Process failed outside the error vocabulary: %v", err)
			}
			return
		}
		if int64(p.Width)*int64(p.Height) > opts.MaxPixels {
			t.Fatalf("accepted %d×%d over the limit", p.Width, p.Height)
		}
		for _, b := range [][]byte{p.Preview, p.Thumb} {
			if _, err := jpeg.DecodeConfig(bytes.NewReader(b)); err != nil {
				t.Fatalf("derived image is not a JPEG: %v", err)
			}
		}
	})
}

// FuzzSniff checks Sniff and ReadMetadata on arbitrary bytes: no panic, a
// format only for the right magic bytes, metadata always in range.
func FuzzSniff(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		format, err := photo.Sniff(data)
		switch {
		case err != nil && format != "":
			t.Fatalf("Sniff returned %q with error %v", format, err)
		case format == photo.JPEG && !bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
			t.Fatal("JPEG without the SOI marker")
		case format == photo.PNG && !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
			t.Fatal("PNG without the signature")
		}
		md := photo.ReadMetadata(data, time.UTC)
		if md.Orientation < 1 || md.Orientation > 8 {
			t.Fatalf("orientation %d out of range", md.Orientation)
		}
		if md.HasGPS && (md.Lat < -90 || md.Lat > 90 || md.Lon < -180 || md.Lon > 180) {
			t.Fatalf("GPS %f,%f out of range", md.Lat, md.Lon)
		}
		if _, cfg, err := photo.Check(data, photo.Options{MaxPixels: 1 << 20}); err == nil && (cfg.Width <= 0 || cfg.Height <= 0) {
			t.Fatalf("Check accepted %dx%d", cfg.Width, cfg.Height)
		}
	})
}

package photo_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/disintegration/imaging"
	"github.com/rwcarlsen/goexif/exif"

	"github.com/ruhu-dev/ruhu/assets/photo"
	"github.com/ruhu-dev/ruhu/assets/photobench"
)

func encodeJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var (
	shanghaiLat = [3][2]uint32{{31, 1}, {13, 1}, {456, 10}} // 31°13'45.6" N
	shanghaiLon = [3][2]uint32{{121, 1}, {28, 1}, {30, 1}}  // 121°28'30" E
)

const (
	wantLat = 31 + 13.0/60 + 45.6/3600
	wantLon = 121 + 28.0/60 + 30.0/3600
)

// pngBomb is a PNG whose IHDR (with a valid CRC) declares w×h RGBA pixels,
// followed by a tiny IDAT and IEND: a decoder that trusts it would
// allocate w×h×4 bytes.
func pngBomb(w, h uint32) []byte {
	chunk := func(typ string, data []byte) []byte {
		out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		out = append(out, typ...)
		out = append(out, data...)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA, deflate, no filter, no interlace
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	out = append(out, chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, chunk("IEND", nil)...)
}

func TestSniff(t *testing.T) {
	small := encodeJPEG(t, image.NewGray(image.Rect(0, 0, 8, 8)), 80)
	tests := []struct {
		name string
		data []byte
		want photo.Format
		err  error
	}{
		{"jpeg", small, photo.JPEG, nil},
		{"png", encodePNG(t, image.NewGray(image.Rect(0, 0, 8, 8))), photo.PNG, nil},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), "", photo.ErrUnsupportedType},
		{"webp", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), "", photo.ErrUnsupportedType},
		{"pdf", []byte("%PDF-1.7"), "", photo.ErrUnsupportedType},
		{"empty", nil, "", photo.ErrUnsupportedType},
		{"two bytes of jpeg", []byte{0xFF, 0xD8}, "", photo.ErrUnsupportedType},
		{"png signature cut", []byte("\x89PNG\r\n"), "", photo.ErrUnsupportedType},
	}
	for _, tc := range tests {
		got, err := photo.Sniff(tc.data)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%s: Sniff = %q, %v; want %q, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func TestProcessRefuses(t *testing.T) {
	good := encodeJPEG(t, photobench.Scene(640, 480, 1), 85)
	tests := []struct {
		name string
		data []byte
		opts photo.Options
		want error
	}{
		{"text", []byte("this is not a photo at all"), photo.Options{}, photo.ErrUnsupportedType},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), photo.Options{}, photo.ErrUnsupportedType},
		{"truncated jpeg", good[:len(good)/2], photo.Options{}, photo.ErrCorrupt},
		{"jpeg header only", good[:200], photo.Options{}, photo.ErrCorrupt},
		{"png bomb 100000x100000", pngBomb(100000, 100000), photo.Options{}, photo.ErrTooManyPixels},
		{"png bomb 8000x7000 (56 MP)", pngBomb(8000, 7000), photo.Options{}, photo.ErrTooManyPixels},
		{"under a lowered limit", good, photo.Options{MaxPixels: 640*480 - 1}, photo.ErrTooManyPixels},
		{"png with a zero width", pngBomb(0, 10), photo.Options{}, photo.ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := photo.Process(tc.data, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Process = %v, %v; want %v", p, err, tc.want)
			}
		})
	}
	// The limit is inclusive: exactly MaxPixels is accepted.
	if _, err := photo.Process(good, photo.Options{MaxPixels: 640 * 480}); err != nil {
		t.Fatalf("Process at exactly the pixel limit: %v", err)
	}
}

func TestBombRefusedWithoutAllocating(t *testing.T) {
	bomb := pngBomb(100000, 100000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := photo.Process(bomb, photo.Options{}); !errors.Is(err, photo.ErrTooManyPixels) {
			t.Fatalf("Process(bomb) = %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if perCall := (after.TotalAlloc - before.TotalAlloc) / 10; perCall > 256<<10 {
		t.Fatalf("refusing a bomb allocated %d bytes per call; the header alone should decide", perCall)
	}
	// Check, the cheap entry point, agrees.
	if _, cfg, err := photo.Check(bomb, photo.Options{}); !errors.Is(err, photo.ErrTooManyPixels) || cfg.Width != 100000 {
		t.Fatalf("Check(bomb) = %+v, %v", cfg, err)
	}
}

// halves draws a w×h image whose top half is red and bottom half blue.
func halves(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, image.Rect(0, 0, w, h/2), image.NewUniform(color.RGBA{220, 20, 20, 255}), image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(0, h/2, w, h), image.NewUniform(color.RGBA{20, 20, 220, 255}), image.Point{}, draw.Src)
	return img
}

func isRed(c color.Color) bool  { r, _, b, _ := c.RGBA(); return r > 2*b }
func isBlue(c color.Color) bool { r, _, b, _ := c.RGBA(); return b > 2*r }

func TestEXIFOrientationHonoured(t *testing.T) {
	// Stored 200×100, red on top. Orientation 6: rotate 90° clockwise to
	// display, so the viewer sees 100×200 with red on the right.
	data := photobench.WithEXIF(encodeJPEG(t, halves(200, 100), 90), 6, "2024:03:05 14:30:00", shanghaiLat, shanghaiLon)
	p, err := photo.Process(data, photo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Meta.Orientation != 6 || p.Width != 100 || p.Height != 200 {
		t.Fatalf("orientation %d, size %d×%d; want 6, 100×200", p.Meta.Orientation, p.Width, p.Height)
	}
	prev, err := jpeg.Decode(bytes.NewReader(p.Preview))
	if err != nil {
		t.Fatal(err)
	}
	if b := prev.Bounds(); b.Dx() != 100 || b.Dy() != 200 {
		t.Fatalf("preview is %v, want 100×200 upright and not enlarged", b)
	}
	if !isRed(prev.At(80, 100)) || !isBlue(prev.At(20, 100)) {
		t.Fatalf("preview not rotated clockwise: right %v, left %v", prev.At(80, 100), prev.At(20, 100))
	}

	// Without EXIF the same pixels stay as stored.
	p, err = photo.Process(encodeJPEG(t, halves(200, 100), 90), photo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Meta.Orientation != 1 || p.Width != 200 || p.Height != 100 {
		t.Fatalf("no EXIF: orientation %d, size %d×%d", p.Meta.Orientation, p.Width, p.Height)
	}
}

func TestEXIFTimeAndGPS(t *testing.T) {
	data := photobench.WithEXIF(encodeJPEG(t, halves(64, 64), 90), 1, "2024:03:05 14:30:00", shanghaiLat, shanghaiLon)
	md := photo.ReadMetadata(data, nil)
	want := time.Date(2024, 3, 5, 6, 30, 0, 0, time.UTC) // 14:30 in UTC+8
	if !md.TakenAt.Equal(want) {
		t.Errorf("TakenAt = %v, want %v", md.TakenAt, want)
	}
	if !md.HasGPS || math.Abs(md.Lat-wantLat) > 1e-9 || math.Abs(md.Lon-wantLon) > 1e-9 {
		t.Errorf("GPS = %v %f,%f; want %f,%f", md.HasGPS, md.Lat, md.Lon, wantLat, wantLon)
	}
	// Another location reads the same wall time differently.
	if got := photo.ReadMetadata(data, time.UTC).TakenAt; !got.Equal(want.Add(8 * time.Hour)) {
		t.Errorf("TakenAt in UTC = %v", got)
	}

	// An independent reader (goexif) agrees with what the hand-built
	// segment says, so the test data is what we think it is.
	x, err := exif.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("goexif: %v", err)
	}
	lat, lon, err := x.LatLong()
	if err != nil || math.Abs(lat-wantLat) > 1e-9 || math.Abs(lon-wantLon) > 1e-9 {
		t.Errorf("goexif LatLong = %f, %f, %v", lat, lon, err)
	}
	if tm, err := x.DateTime(); err != nil || tm.Format("2006-01-02 15:04:05") != "2024-03-05 14:30:00" {
		t.Errorf("goexif DateTime = %v, %v", tm, err)
	}

	// Absent EXIF is not an error: zero values and Orientation 1.
	plain := photo.ReadMetadata(encodeJPEG(t, halves(64, 64), 90), nil)
	if plain != (photo.Metadata{Orientation: 1}) {
		t.Errorf("metadata of a plain JPEG = %+v", plain)
	}
}

func TestEXIFZeroGPSIsAbsent(t *testing.T) {
	zero := [3][2]uint32{{0, 1}, {0, 1}, {0, 1}}
	data := photobench.WithEXIF(encodeJPEG(t, halves(32, 32), 90), 1, "0000:00:00 00:00:00", zero, zero)
	md := photo.ReadMetadata(data, nil)
	if md.HasGPS || !md.TakenAt.IsZero() {
		t.Fatalf("a 0,0 fix and a zeroed date should read as absent, got %+v", md)
	}
}

func TestPHashNearCopiesAndDifferentHouses(t *testing.T) {
	const threshold = 6
	hashOf := func(data []byte) uint64 {
		t.Helper()
		p, err := photo.Process(data, photo.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return p.PHash
	}
	scene := photobench.Scene(1600, 1200, 1)
	orig := hashOf(encodeJPEG(t, scene, 92))
	recompressed := hashOf(encodeJPEG(t, scene, 60))
	half := imaging.Resize(scene, 800, 600, imaging.Linear)
	resized := hashOf(encodeJPEG(t, half, 60))
	for name, h := range map[string]uint64{"quality 60": recompressed, "0.5× and quality 60": resized} {
		if d := photo.HammingDistance(orig, h); d > threshold {
			t.Errorf("%s copy is %d bits away, want ≤ %d", name, d, threshold)
		}
	}

	var hashes []uint64
	for seed := uint64(1); seed <= 6; seed++ {
		hashes = append(hashes, hashOf(encodeJPEG(t, photobench.Scene(800, 600, seed), 85)))
	}
	closest := 64
	for i := range hashes {
		for j := i + 1; j < len(hashes); j++ {
			d := photo.HammingDistance(hashes[i], hashes[j])
			closest = min(closest, d)
			if d <= threshold {
				t.Errorf("houses %d and %d are only %d bits apart", i+1, j+1, d)
			}
		}
	}
	t.Logf("closest pair of different houses: %d bits", closest)
}

func TestHammingDistance(t *testing.T) {
	tests := []struct {
		a, b uint64
		want int
	}{
		{0, 0, 0},
		{0, 1, 1},
		{0xFF, 0x0F, 4},
		{math.MaxUint64, 0, 64},
		{0xAAAA_AAAA_AAAA_AAAA, 0x5555_5555_5555_5555, 64},
	}
	for _, tc := range tests {
		if got := photo.HammingDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("HammingDistance(%x, %x) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := photo.HammingDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("HammingDistance is not symmetric for %x, %x", tc.a, tc.b)
		}
	}
}

func TestPreviewAndThumbSizes(t *testing.T) {
	tests := []struct {
		name      string
		data      []byte
		prevW     int
		prevH     int
		thumbLong int
	}{
		{"12 MP-like jpeg", encodeJPEG(t, photobench.Scene(4000, 3000, 3), 85), 1280, 960, 256},
		{"png (NRGBA path)", encodePNG(t, imageNRGBA(halves(3000, 2000))), 1280, 853, 256},
		{"grey jpeg", encodeJPEG(t, image.NewGray(image.Rect(0, 0, 2000, 3000)), 85), 853, 1280, 256},
		{"small stays small", encodeJPEG(t, photobench.Scene(300, 200, 5), 85), 300, 200, 256},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := photo.Process(tc.data, photo.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if p.PreviewWidth != tc.prevW || p.PreviewHeight != tc.prevH {
				t.Errorf("preview %d×%d, want %d×%d", p.PreviewWidth, p.PreviewHeight, tc.prevW, tc.prevH)
			}
			if max(p.ThumbWidth, p.ThumbHeight) != tc.thumbLong {
				t.Errorf("thumb %d×%d, want longest side %d", p.ThumbWidth, p.ThumbHeight, tc.thumbLong)
			}
			for name, b := range map[string][]byte{"preview": p.Preview, "thumb": p.Thumb} {
				cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
				if err != nil {
					t.Fatalf("%s is not a JPEG: %v", name, err)
				}
				if name == "preview" && (cfg.Width != p.PreviewWidth || cfg.Height != p.PreviewHeight) {
					t.Errorf("preview JPEG is %d×%d, Processed says %d×%d", cfg.Width, cfg.Height, p.PreviewWidth, p.PreviewHeight)
				}
			}
		})
	}
}

func imageNRGBA(src image.Image) *image.NRGBA {
	dst := image.NewNRGBA(src.Bounds())
	draw.Draw(dst, dst.Bounds(), src, src.Bounds().Min, draw.Src)
	return dst
}

func TestCompressForEvidence(t *testing.T) {
	orig := photobench.WithEXIF(encodeJPEG(t, photobench.Scene(3000, 2000, 7), 92), 6, "2024:03:05 14:30:00", shanghaiLat, shanghaiLon)
	small, err := photo.CompressForEvidence(orig, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(small))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != 853 || cfg.Height != photo.EvidenceSide {
		t.Errorf("evidence copy is %d×%d, want upright 853×%d", cfg.Width, cfg.Height, photo.EvidenceSide)
	}
	if len(small) >= len(orig)/2 {
		t.Errorf("evidence copy is %d bytes for an original of %d", len(small), len(orig))
	}
	md := photo.ReadMetadata(small, nil)
	if md.Orientation != 1 || !md.TakenAt.Equal(time.Date(2024, 3, 5, 6, 30, 0, 0, time.UTC)) ||
		!md.HasGPS || math.Abs(md.Lat-wantLat) > 1e-6 || math.Abs(md.Lon-wantLon) > 1e-6 {
		t.Errorf("evidence copy metadata = %+v", md)
	}
	// goexif reads the written block too.
	x, err := exif.Decode(bytes.NewReader(small))
	if err != nil {
		t.Fatalf("goexif on the evidence copy: %v", err)
	}
	if lat, lon, err := x.LatLong(); err != nil || math.Abs(lat-wantLat) > 1e-6 || math.Abs(lon-wantLon) > 1e-6 {
		t.Errorf("goexif LatLong = %f, %f, %v", lat, lon, err)
	}
	// The copy processes to the same picture.
	a, err := photo.Process(orig, photo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := photo.Process(small, photo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := photo.HammingDistance(a.PHash, b.PHash); d > 6 {
		t.Errorf("evidence copy is %d bits from its original", d)
	}
	if _, err := photo.CompressForEvidence([]byte("nope"), 0, 0); !errors.Is(err, photo.ErrUnsupportedType) {
		t.Errorf("CompressForEvidence(text) = %v", err)
	}
}

func TestProcessorSharesConcurrentWork(t *testing.T) {
	data := encodeJPEG(t, photobench.Scene(1600, 1200, 8), 85)
	p := photo.NewProcessor(photo.Options{}, 1)
	const callers = 8
	results := make([]*photo.Processed, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			r, err := p.Process(context.Background(), "same-sha", data)
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		})
	}
	wg.Wait()
	shared := 0
	for _, r := range results[1:] {
		if r == results[0] {
			shared++
		}
	}
	// Callers that arrive after the first run finished start a new run, so
	// not all need share, but with one slot and a 2 MP decode most do.
	if shared == 0 {
		t.Fatal("no caller shared the in-flight result")
	}
	t.Logf("%d of %d callers shared one run", shared+1, callers)

	// A caller that gives up gets its context error, promptly.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Process(ctx, "other-sha", data); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", err)
	}
	// And errors are shared as errors.
	if _, err := p.Process(context.Background(), "bad", []byte("junk")); !errors.Is(err, photo.ErrUnsupportedType) {
		t.Fatalf("Processor on junk = %v", err)
	}
}

func BenchmarkProcess12MP(b *testing.B) {
	data, err := photobench.JPEG(4000, 3000, 12, 90)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := photo.Process(data, photo.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

package findings_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image/jpeg"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/disintegration/imaging"

	"github.com/ruhu-dev/ruhu/assets/findings"
	"github.com/ruhu-dev/ruhu/assets/photo"
	"github.com/ruhu-dev/ruhu/assets/photobench"
)

// evidenceShot is a photo record of the evidence-copy test: which file it
// cites and what the tablet recorded with it.
type evidenceShot struct {
	id, household string
	file          string // a key of the files map
	recordTime    time.Time
	recordGPS     findings.LatLon
}

// TestEvidenceCopyKeepsTheFindings holds that the findings the server makes
// from the compressed evidence copies a tablet sends over 2G
// (photo.CompressForEvidence of a 12 MP original) are the findings it would
// make from the originals: the same photo used for two households (same
// bytes, and a resized, recompressed near copy), and EXIF time and place
// that disagree with the record, and nothing more. It also holds that each
// evidence copy is within the near-copy radius of its own original, so an
// original sent by one tablet and an evidence copy sent by another still
// match. Smaller evidence settings are tried too, and their sizes logged:
// they are the candidates for tuning the copy.
func TestEvidenceCopyKeepsTheFindings(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes and decodes 12-megapixel photos")
	}
	cst := time.FixedZone("CST", 8*3600)
	t0 := time.Date(2026, 11, 20, 9, 30, 0, 0, cst)
	village := findings.LatLon{Lat: 31.7051, Lon: 117.1402}
	original := func(seed uint64, taken time.Time, at findings.LatLon) []byte {
		jpg, err := photobench.JPEG(4000, 3000, seed, 92)
		if err != nil {
			t.Fatal(err)
		}
		return photobench.WithEXIF(jpg, 1, taken.Format("2006:01:02 15:04:05"), dms(at.Lat), dms(at.Lon))
	}
	files := map[string][]byte{
		"A": original(11, t0, village),
		"B": original(12, t0.Add(time.Hour), *north(village, 40)),
		"C": original(13, t0.Add(2*time.Hour), *north(village, 80)),
		"D": original(14, t0.Add(3*time.Hour), *north(village, 120)),
	}
	files["A-copy"] = nearCopy(t, files["A"])
	shots := []evidenceShot{
		{"p1", "h1", "A", t0, village},
		{"p2", "h2", "A-copy", t0, village},                                        // a near copy for another household
		{"p3", "h3", "B", t0.Add(time.Hour + 30*time.Minute), *north(village, 40)}, // recorded 30 min after the EXIF time
		{"p4", "h4", "C", t0.Add(2 * time.Hour), *north(village, 1080)},            // recorded 1 km from the EXIF fix
		{"p5", "h5", "C", t0.Add(2 * time.Hour), *north(village, 80)},              // the same bytes for another household
		{"p6", "h3", "B", t0.Add(time.Hour), *north(village, 40)},                  // the same bytes, same household: no finding
		{"p7", "h6", "D", t0.Add(3 * time.Hour), *north(village, 120)},             // nothing wrong
	}
	want := []findings.Kind{findings.EXIFGPSMismatch, findings.EXIFTimeMismatch, findings.ReusedPhoto, findings.ReusedPhoto}

	origFacts := factsOf(t, files)
	fromOriginals := findings.Check(photosOf(shots, origFacts), findings.Policy{})
	if got := kinds(fromOriginals); !slices.Equal(got, want) {
		t.Fatalf("from the originals: %v, want %v", got, want)
	}
	tests := []struct {
		name             string
		maxSide, quality int
	}{
		{fmt.Sprintf("the tablet's evidence copy (%d px, quality %d)", photo.EvidenceSide, photo.EvidenceQuality), 0, 0},
		{"the former copy (1600 px, quality 75)", 1600, 75},
		{"1024 px, quality 50", 1024, 50},
		{"800 px, quality 40", 800, 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			copies := map[string][]byte{}
			size := 0
			for k, data := range files {
				ev, err := photo.CompressForEvidence(data, tc.maxSide, tc.quality)
				if err != nil {
					t.Fatal(err)
				}
				copies[k] = ev
				if k != "A-copy" {
					size += len(ev)
				}
			}
			facts := factsOf(t, copies)
			got := findings.Check(photosOf(shots, facts), findings.Policy{})
			if !sameFindings(got, fromOriginals) {
				t.Errorf("from the evidence copies:\n%v\nfrom the originals:\n%v", describe(got), describe(fromOriginals))
			}
			for k, f := range facts {
				if d := photo.HammingDistance(f.phash, origFacts[k].phash); d > 6 {
					t.Errorf("%s: evidence copy %d bits from its original, beyond the near-copy radius 6", k, d)
				}
			}
			t.Logf("%d evidence copies of 12 MP originals: %d bytes, %.0f KB each on average", len(files)-1, size, float64(size)/float64(len(files)-1)/1000)
		})
	}
}

// evidenceFacts is what the server learns from an uploaded file.
type evidenceFacts struct {
	sha   string
	phash uint64
	md    photo.Metadata
}

func factsOf(t *testing.T, files map[string][]byte) map[string]evidenceFacts {
	t.Helper()
	out := map[string]evidenceFacts{}
	for k, data := range files {
		p, err := photo.Process(data, photo.Options{})
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		sum := sha256.Sum256(data)
		out[k] = evidenceFacts{sha: hex.EncodeToString(sum[:]), phash: p.PHash, md: photo.ReadMetadata(data, nil)}
	}
	return out
}

func photosOf(shots []evidenceShot, facts map[string]evidenceFacts) []findings.Photo {
	var out []findings.Photo
	for _, s := range shots {
		f := facts[s.file]
		p := findings.Photo{ID: s.id, HouseholdID: s.household, SHA256: f.sha, PHash: f.phash, HasPHash: true,
			RecordTime: s.recordTime, RecordGPS: &s.recordGPS, EXIFTime: f.md.TakenAt}
		if f.md.HasGPS {
			p.EXIFGPS = &findings.LatLon{Lat: f.md.Lat, Lon: f.md.Lon}
		}
		out = append(out, p)
	}
	return out
}

// sameFindings compares what a finding says (kind, photos, households),
// not its measurement: a copy may move a hash by a bit or a fix by a
// rounding.
func sameFindings(a, b []findings.Finding) bool {
	return slices.EqualFunc(a, b, func(x, y findings.Finding) bool {
		return x.Kind == y.Kind && slices.Equal(x.PhotoIDs, y.PhotoIDs) && slices.Equal(x.HouseholdIDs, y.HouseholdIDs)
	})
}

func describe(fs []findings.Finding) string {
	var b bytes.Buffer
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s %v %v: %s\n", f.Kind, f.PhotoIDs, f.HouseholdIDs, f.Detail)
	}
	return b.String()
}

// nearCopy is what a second phone makes of a photo passed around: scaled
// to half size and recompressed, with the metadata dropped.
func nearCopy(t *testing.T, src []byte) []byte {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, imaging.Resize(img, 2000, 0, imaging.Lanczos), &jpeg.Options{Quality: 70}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// dms writes positive degrees as EXIF degrees, minutes and 1/100 seconds.
func dms(deg float64) [3][2]uint32 {
	d := math.Floor(deg)
	m := math.Floor((deg - d) * 60)
	s := math.Round(((deg-d)*60 - m) * 60 * 100)
	return [3][2]uint32{{uint32(d), 1}, {uint32(m), 1}, {uint32(s), 100}}
}

package photo

import (
	"fmt"
)

// The evidence copy's defaults. The side is the server's preview side
// (Options.PreviewSide), so what a reviewer sees before the original
// arrives is no smaller than the console's preview; the quality is the
// lowest before the blocks show, and below it the copy shrinks by little
// more (−11 % at 50). The photo findings (reuse, near copy, EXIF time and
// place) on such copies equal those on the originals
// (findings.TestEvidenceCopyKeepsTheFindings, which also tries smaller
// settings). From 12 MP originals (photobench scenes) a copy is about
// 35 KB, against 95 KB at the former 1600 px and quality 75: over 2G,
// in ruhu bench day, about 2.9 minutes for a day's 20 photos instead of
// 6.6.
const (
	EvidenceSide    = 1280
	EvidenceQuality = 60
)

// CompressForEvidence makes the small copy a tablet uploads first over 2G:
// upright, longest side at most maxSide (0 means EvidenceSide), JPEG at
// quality (0 means EvidenceQuality), carrying a minimal EXIF block with
// the capture time and GPS fix of the original so the server's time and
// place checks work before the original arrives. Refuses what Process
// refuses, with the same errors, and never enlarges.
func CompressForEvidence(src []byte, maxSide, quality int) ([]byte, error) {
	if maxSide <= 0 {
		maxSide = EvidenceSide
	}
	if quality <= 0 || quality > 100 {
		quality = EvidenceQuality
	}
	opts := Options{}.withDefaults()
	var out []byte
	err := guard(func() error {
		img, _, md, err := decodeChecked(src, opts)
		if err != nil {
			return err
		}
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		if md.Orientation >= 5 {
			w, h = h, w
		}
		upright := orient(shrinkToward(img, maxSide), md.Orientation)
		img = nil
		small := fitWithin(upright, w, h, maxSide)
		out, err = encodeJPEG(small, quality, appendAPP1(evidenceMeta(md)))
		if err != nil {
			return fmt.Errorf("evidence copy: %w", err)
		}
		return nil
	})
	return out, err
}

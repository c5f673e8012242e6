package photo

import (
	"fmt"
)

// CompressForEvidence makes the small copy a tablet uploads first over 2G:
// upright, longest side at most maxSide (0 means 1600), JPEG at quality
// (0 means 75), carrying a minimal EXIF block with the capture time and
// GPS fix of the original so the server's time and place checks work
// before the original arrives. Refuses what Process refuses, with the same
// errors, and never enlarges.
func CompressForEvidence(src []byte, maxSide, quality int) ([]byte, error) {
	if maxSide <= 0 {
		maxSide = 1600
	}
	if quality <= 0 || quality > 100 {
		quality = 75
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

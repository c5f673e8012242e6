package photo

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
)

// encodeJPEG writes img as a baseline JPEG, inserting app1 (a complete
// APP1 segment, or nil) right after the start-of-image marker.
func encodeJPEG(img *image.NRGBA, quality int, app1 []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(img.Pix) / 8)
	if err := jpeg.Encode(&buf, opaque(img), &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("encode jpeg: %w", err)
	}
	out := buf.Bytes()
	if len(app1) == 0 {
		return out, nil
	}
	withEXIF := make([]byte, 0, len(out)+len(app1))
	withEXIF = append(withEXIF, out[:2]...)
	withEXIF = append(withEXIF, app1...)
	return append(withEXIF, out[2:]...), nil
}

// opaque composites any transparency onto white, in place, and returns the
// same pixels as *image.RGBA: with alpha 255 everywhere, premultiplied and
// straight alpha coincide, and the JPEG encoder has a fast path for RGBA
// (for NRGBA it falls back to one interface call per pixel).
func opaque(img *image.NRGBA) *image.RGBA {
	p := img.Pix
	for i := 3; i < len(p); i += 4 {
		if a := uint32(p[i]); a != 0xFF {
			for c := i - 3; c < i; c++ {
				p[c] = uint8((uint32(p[c])*a + 0xFF*(0xFF-a) + 0x7F) / 0xFF)
			}
			p[i] = 0xFF
		}
	}
	return &image.RGBA{Pix: p, Stride: img.Stride, Rect: img.Rect}
}

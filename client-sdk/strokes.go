package client

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// StrokePoint is one sample of the pen: pad coordinates and the time in
// milliseconds since the first touch.
type StrokePoint struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	T float64 `json:"t"`
}

// Stroke is the points of one pen-down to pen-up.
type Stroke []StrokePoint

// Rendering of signature strokes to the image uploaded with the record.
const (
	signatureMaxWidth  = 600 // pixels; the strokes are scaled to fit
	signatureMaxHeight = 240
	signatureMargin    = 12
	penRadius          = 2.0
)

// renderStrokes draws the strokes black on white, scaled to fit
// signatureMaxWidth × signatureMaxHeight with their aspect kept, as a
// 1-bit PNG (a few KB). The same strokes always give the same bytes.
func renderStrokes(strokes []Stroke) ([]byte, error) {
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	points := 0
	for _, s := range strokes {
		for _, p := range s {
			if math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) {
				return nil, syncengine.Errorf(syncengine.EINVALID, "签字笔迹含有无效坐标")
			}
			minX, maxX = min(minX, p.X), max(maxX, p.X)
			minY, maxY = min(minY, p.Y), max(maxY, p.Y)
			points++
		}
	}
	if points == 0 {
		return nil, syncengine.Errorf(syncengine.EINVALID, "签字为空：没有笔迹")
	}
	inner := float64(signatureMaxWidth - 2*signatureMargin)
	innerH := float64(signatureMaxHeight - 2*signatureMargin)
	w, h := maxX-minX, maxY-minY
	scale := 1.0
	if w > 0 || h > 0 {
		scale = math.Inf(1)
		if w > 0 {
			scale = inner / w
		}
		if h > 0 {
			scale = min(scale, innerH/h)
		}
	}
	width := int(math.Ceil(w*scale)) + 2*signatureMargin
	height := int(math.Ceil(h*scale)) + 2*signatureMargin
	img := image.NewPaletted(image.Rect(0, 0, width, height), color.Palette{color.White, color.Black})
	at := func(p StrokePoint) (float64, float64) {
		return (p.X-minX)*scale + signatureMargin, (p.Y-minY)*scale + signatureMargin
	}
	for _, s := range strokes {
		for i := range s {
			x0, y0 := at(s[i])
			x1, y1 := x0, y0
			if i+1 < len(s) {
				x1, y1 = at(s[i+1])
			} else if i > 0 {
				continue // the last point was drawn as the end of the previous segment
			}
			drawSegment(img, x0, y0, x1, y1)
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode signature image: %w", err)
	}
	return buf.Bytes(), nil
}

// drawSegment stamps round pen tips every half pixel from (x0,y0) to
// (x1,y1): a thick line with round caps and joins.
func drawSegment(img *image.Paletted, x0, y0, x1, y1 float64) {
	steps := int(math.Ceil(math.Hypot(x1-x0, y1-y0)*2)) + 1
	for i := 0; i <= steps; i++ {
		t := float64(i) / float64(steps)
		stamp(img, x0+(x1-x0)*t, y0+(y1-y0)*t)
	}
}

func stamp(img *image.Paletted, cx, cy float64) {
	r := penRadius
	for y := int(math.Floor(cy - r)); y <= int(math.Ceil(cy+r)); y++ {
		for x := int(math.Floor(cx - r)); x <= int(math.Ceil(cx+r)); x++ {
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			if dx*dx+dy*dy <= r*r && image.Pt(x, y).In(img.Rect) {
				img.SetColorIndex(x, y, 1)
			}
		}
	}
}

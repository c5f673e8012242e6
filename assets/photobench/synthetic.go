// Package photobench measures photo processing against the project's
// quality bar (a 12-megapixel JPEG to preview, thumbnail and perceptual
// hash in at most 400 ms and 150 MB peak RSS) and generates the synthetic
// photos that tests and benchmarks use, so no binary fixtures are needed.
package photobench

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
)

// Scene draws a synthetic photo of a rural house, w×h pixels, as YCbCr
// 4:2:0 (what phone cameras store). seed decides everything: sky and
// ground, the house's place, size, colours, roof, door, windows and wall
// pattern, some trees, and sensor-like noise, so the JPEG decoder does real
// work. Different seeds give different houses; the same seed gives the
// same image at any size.
func Scene(w, h int, seed uint64) *image.YCbCr {
	rng := rand.New(rand.NewPCG(seed, 0x52554855)) // "RUHU"
	c := &canvas{img: image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)}
	fw, fh := float64(w), float64(h)

	horizon := 0.45 + 0.2*rng.Float64()
	sky := randomColor(rng, 90, 150, 200, 40)
	ground := randomColor(rng, 90, 110, 60, 50)
	for y := range h {
		t := float64(y) / fh
		if t < horizon {
			c.hline(0, w, y, shade(sky, 1.2-0.5*t/horizon))
		} else {
			c.hline(0, w, y, shade(ground, 0.7+0.5*(t-horizon)))
		}
	}
	for range 2 + rng.IntN(5) { // trees
		r := (0.03 + 0.06*rng.Float64()) * fh
		c.ellipse(rng.Float64()*fw, horizon*fh-r*0.3, r*0.8, r, randomColor(rng, 40, 100, 40, 30))
	}

	// The house.
	wallW := (0.3 + 0.3*rng.Float64()) * fw
	wallH := (0.2 + 0.2*rng.Float64()) * fh
	x0 := rng.Float64() * (fw - wallW)
	y1 := horizon*fh + (0.05+0.15*rng.Float64())*fh
	y0 := y1 - wallH
	wall := randomColor(rng, 180, 170, 150, 70)
	c.rect(x0, y0, x0+wallW, y1, wall)
	if rng.IntN(2) == 0 { // brick courses
		course := wallH / float64(8+rng.IntN(10))
		for y := y0 + course; y < y1; y += course {
			c.rect(x0, y, x0+wallW, y+course/8, shade(wall, 0.6))
		}
	}
	roof := randomColor(rng, 120, 60, 50, 60)
	overhang := wallW * 0.08
	peakX := x0 + wallW*(0.3+0.4*rng.Float64())
	c.triangle(x0-overhang, x0+wallW+overhang, y0, peakX, y0-wallH*(0.4+0.5*rng.Float64()), roof)
	doorW := wallW * (0.12 + 0.08*rng.Float64())
	doorX := x0 + rng.Float64()*(wallW-doorW)
	c.rect(doorX, y1-wallH*0.65, doorX+doorW, y1, randomColor(rng, 80, 50, 30, 40))
	for range 1 + rng.IntN(3) {
		ww := wallW * 0.12
		wx := x0 + rng.Float64()*(wallW-ww)
		wy := y0 + wallH*(0.15+0.2*rng.Float64())
		c.rect(wx, wy, wx+ww, wy+ww, color.RGBA{40, 50, 70, 255})
	}
	c.noise(rng, 10)
	return c.img
}

// JPEG encodes Scene(w, h, seed) at the given quality.
func JPEG(w, h int, seed uint64, quality int) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, Scene(w, h, seed), &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("encode synthetic photo: %w", err)
	}
	return buf.Bytes(), nil
}

func randomColor(rng *rand.Rand, r, g, b, spread int) color.RGBA {
	jitter := func(v int) uint8 { return uint8(max(0, min(255, v+rng.IntN(2*spread+1)-spread))) }
	return color.RGBA{jitter(r), jitter(g), jitter(b), 255}
}

func shade(c color.RGBA, f float64) color.RGBA {
	s := func(v uint8) uint8 { return uint8(max(0, min(255, float64(v)*f))) }
	return color.RGBA{s(c.R), s(c.G), s(c.B), 255}
}

// canvas paints opaque shapes straight into YCbCr planes.
type canvas struct{ img *image.YCbCr }

func (c *canvas) hline(x0, x1, y int, col color.RGBA) {
	b := c.img.Rect
	if y < 0 || y >= b.Dy() {
		return
	}
	x0, x1 = max(0, x0), min(b.Dx(), x1)
	yy, cb, cr := color.RGBToYCbCr(col.R, col.G, col.B)
	row := c.img.Y[y*c.img.YStride:]
	for x := x0; x < x1; x++ {
		row[x] = yy
	}
	for x := x0 &^ 1; x < x1; x += 2 {
		i := c.img.COffset(x, y)
		c.img.Cb[i], c.img.Cr[i] = cb, cr
	}
}

func (c *canvas) rect(x0, y0, x1, y1 float64, col color.RGBA) {
	for y := int(y0); y < int(y1); y++ {
		c.hline(int(x0), int(x1), y, col)
	}
}

// triangle fills the triangle with a horizontal base (ax..bx at baseY) and
// apex (px, py) above it.
func (c *canvas) triangle(ax, bx, baseY, px, py float64, col color.RGBA) {
	for y := int(py); y < int(baseY); y++ {
		t := (float64(y) - py) / (baseY - py)
		c.hline(int(px+(ax-px)*t), int(px+(bx-px)*t), y, col)
	}
}

func (c *canvas) ellipse(cx, cy, rx, ry float64, col color.RGBA) {
	for y := int(cy - ry); y < int(cy+ry); y++ {
		dy := (float64(y) - cy) / ry
		if dy*dy >= 1 {
			continue
		}
		half := rx * math.Sqrt(1-dy*dy)
		c.hline(int(cx-half), int(cx+half), y, col)
	}
}

// noise adds uniform luma noise of ±amp, like a phone sensor in daylight.
func (c *canvas) noise(rng *rand.Rand, amp int) {
	state := rng.Uint64() | 1
	for i, v := range c.img.Y {
		state ^= state << 13
		state ^= state >> 7
		state ^= state << 17
		n := int(state%uint64(2*amp+1)) - amp
		c.img.Y[i] = uint8(max(0, min(255, int(v)+n)))
	}
}

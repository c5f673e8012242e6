package photo

import (
	"image"
	"math"
	"math/bits"
	"slices"
)

// PHash is a 64-bit DCT perceptual hash: the image is reduced to 32×32
// grey levels by area averaging, transformed by a 2-D DCT-II, and the 8×8
// lowest frequencies other than the DC term (overall brightness) are
// compared with their median: bit v*8+u is set when coefficient (u, v) is
// above it. Bit 0, the DC position, is always 0, so 63 bits carry
// information. Recompression, resizing and mild colour shifts move a few
// bits; a different scene moves about half of them.
func PHash(img *image.NRGBA) uint64 {
	const n = 32
	grey := greyGrid(img, n)

	// Only the first 8 frequencies in each direction are needed.
	var cos [8][n]float64
	for u := range 8 {
		for x := range n {
			cos[u][x] = math.Cos(math.Pi * float64(2*x+1) * float64(u) / (2 * n))
		}
	}
	var rows [n][8]float64 // DCT of each row, frequencies 0..7
	for y := range n {
		for u := range 8 {
			var s float64
			for x := range n {
				s += grey[y][x] * cos[u][x]
			}
			rows[y][u] = s
		}
	}
	var coef [64]float64 // index v*8+u
	for v := range 8 {
		for u := range 8 {
			var s float64
			for y := range n {
				s += rows[y][u] * cos[v][y]
			}
			coef[v*8+u] = s
		}
	}

	ac := slices.Clone(coef[1:])
	slices.Sort(ac)
	median := ac[len(ac)/2]
	var h uint64
	for i := 1; i < 64; i++ {
		if coef[i] > median {
			h |= 1 << i
		}
	}
	return h
}

// greyGrid averages luminance (BT.601 weights) over an n×n grid of cells
// covering img. Every cell holds at least one source pixel.
func greyGrid(img *image.NRGBA, n int) [][]float64 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	grid := make([][]float64, n)
	for gy := range n {
		grid[gy] = make([]float64, n)
		y0 := gy * h / n
		y1 := max(y0+1, (gy+1)*h/n)
		for gx := range n {
			x0 := gx * w / n
			x1 := max(x0+1, (gx+1)*w/n)
			var s float64
			for y := y0; y < y1; y++ {
				row := img.PixOffset(b.Min.X, b.Min.Y+y)
				p := img.Pix[row+x0*4 : row+x1*4]
				for i := 0; i < len(p); i += 4 {
					s += 0.299*float64(p[i]) + 0.587*float64(p[i+1]) + 0.114*float64(p[i+2])
				}
			}
			grid[gy][gx] = s / float64((y1-y0)*(x1-x0))
		}
	}
	return grid
}

// HammingDistance counts the bits in which two perceptual hashes differ:
// 0 for the same picture, about 32 for unrelated ones.
func HammingDistance(a, b uint64) int { return bits.OnesCount64(a ^ b) }

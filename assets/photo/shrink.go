package photo

import (
	"image"
	"image/color"
	"runtime"
	"sync"

	"github.com/disintegration/imaging"
)

// shrinkToward reduces img by the largest integer factor that keeps its
// longest side at least side, averaging k×k blocks (a box filter: cheap,
// and free of aliasing for integer factors). The precise resample to side
// then runs with Lanczos on an image at most twice the target instead of
// the full photo. Images whose longest side is under 2×side pass through.
func shrinkToward(img image.Image, side int) image.Image {
	b := img.Bounds()
	k := max(b.Dx(), b.Dy()) / side
	if k < 2 {
		return img
	}
	switch src := img.(type) {
	case *image.YCbCr:
		return shrinkYCbCr(src, k)
	case *image.NRGBA:
		return shrinkNRGBA(src, k)
	}
	return imaging.Resize(img, ceilDiv(b.Dx(), k), ceilDiv(b.Dy(), k), imaging.Box)
}

// inBands runs fn over [0, rows) split into one band per CPU.
func inBands(rows int, fn func(r0, r1 int)) {
	bands := min(runtime.GOMAXPROCS(0), max(1, rows/64))
	var wg sync.WaitGroup
	for i := range bands {
		r0, r1 := rows*i/bands, rows*(i+1)/bands
		wg.Go(func() { fn(r0, r1) })
	}
	wg.Wait()
}

// shrinkNRGBA averages k×k blocks of an NRGBA image (alpha-weighted
// colour is not needed: photos reaching here are opaque or get flattened
// onto white later, and straight averaging of a transparent edge only
// tints a one-pixel border).
func shrinkNRGBA(src *image.NRGBA, k int) *image.NRGBA {
	b := src.Rect
	w, h := b.Dx(), b.Dy()
	ow, oh := ceilDiv(w, k), ceilDiv(h, k)
	dst := image.NewNRGBA(image.Rect(0, 0, ow, oh))
	inBands(oh, func(r0, r1 int) {
		sums := make([]uint32, ow*4)
		for oy := r0; oy < r1; oy++ {
			y0, y1 := oy*k, min(oy*k+k, h)
			clear(sums)
			for y := y0; y < y1; y++ {
				row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
				for x := range w {
					o, p := (x/k)*4, x*4
					sums[o] += uint32(row[p])
					sums[o+1] += uint32(row[p+1])
					sums[o+2] += uint32(row[p+2])
					sums[o+3] += uint32(row[p+3])
				}
			}
			out := dst.Pix[oy*dst.Stride:]
			for ox := range ow {
				n := uint32((y1 - y0) * (min(ox*k+k, w) - ox*k))
				for c := range 4 {
					out[ox*4+c] = uint8((sums[ox*4+c] + n/2) / n)
				}
			}
		}
	})
	return dst
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// shrinkYCbCr averages k×k blocks of a decoded JPEG in its own colour
// space and converts each block to RGB once. The conversion is affine, so
// averaging before converting equals averaging RGB (up to rounding), at a
// third of the work and without a full-size RGB copy.
func shrinkYCbCr(src *image.YCbCr, k int) *image.NRGBA {
	b := src.Rect
	w, h := b.Dx(), b.Dy()
	ow, oh := ceilDiv(w, k), ceilDiv(h, k)
	dst := image.NewNRGBA(image.Rect(0, 0, ow, oh))

	// Chroma column and row of each luma position, for any subsampling.
	cxDiv, cyDiv := 1, 1
	switch src.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		cxDiv = 2
	case image.YCbCrSubsampleRatio420:
		cxDiv, cyDiv = 2, 2
	case image.YCbCrSubsampleRatio440:
		cyDiv = 2
	case image.YCbCrSubsampleRatio411:
		cxDiv = 4
	case image.YCbCrSubsampleRatio410:
		cxDiv, cyDiv = 4, 2
	}
	cx := make([]int, w)
	for x := range cx {
		cx[x] = (b.Min.X+x)/cxDiv - b.Min.X/cxDiv
	}

	inBands(oh, func(r0, r1 int) {
		shrinkYCbCrRows(src, dst, k, cx, cyDiv, r0, r1)
	})
	return dst
}

func shrinkYCbCrRows(src *image.YCbCr, dst *image.NRGBA, k int, cx []int, cyDiv, r0, r1 int) {
	b := src.Rect
	w, h := b.Dx(), b.Dy()
	ow := dst.Rect.Dx()
	sumY := make([]uint32, ow)
	sumCb := make([]uint32, ow)
	sumCr := make([]uint32, ow)
	for oy := r0; oy < r1; oy++ {
		y0, y1 := oy*k, min(oy*k+k, h)
		clear(sumY)
		clear(sumCb)
		clear(sumCr)
		for y := y0; y < y1; y++ {
			yRow := src.Y[y*src.YStride : y*src.YStride+w]
			cOff := ((b.Min.Y+y)/cyDiv - b.Min.Y/cyDiv) * src.CStride
			cbRow, crRow := src.Cb[cOff:], src.Cr[cOff:]
			for ox := range ow {
				x0, x1 := ox*k, min(ox*k+k, w)
				var sy, scb, scr uint32
				for x := x0; x < x1; x++ {
					sy += uint32(yRow[x])
					scb += uint32(cbRow[cx[x]])
					scr += uint32(crRow[cx[x]])
				}
				sumY[ox] += sy
				sumCb[ox] += scb
				sumCr[ox] += scr
			}
		}
		row := dst.Pix[oy*dst.Stride:]
		for ox := range ow {
			n := uint32((y1 - y0) * (min(ox*k+k, w) - ox*k))
			r, g, bl := color.YCbCrToRGB(
				uint8((sumY[ox]+n/2)/n), uint8((sumCb[ox]+n/2)/n), uint8((sumCr[ox]+n/2)/n))
			row[ox*4], row[ox*4+1], row[ox*4+2], row[ox*4+3] = r, g, bl, 0xFF
		}
	}
}

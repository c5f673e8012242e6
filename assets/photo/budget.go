package photo

import (
	"container/list"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"sync"
)

// ErrOverBudget means decoding the image would need more memory than the
// whole decoding budget (see Options.MemoryBudget); nothing was decoded.
// It also matches ErrTooManyPixels, which callers already refuse on.
var ErrOverBudget = errors.New("photo: image needs more memory to decode than the budget")

// Budget is a weighted semaphore over bytes of memory that image decoding
// may hold at once, shared by every worker of a Processor: a worker takes
// what its image needs (DecodeCost) before decoding and gives it back
// after. Pixel limits alone do not bound memory: two 49-megapixel 16-bit
// PNGs of a few hundred KB each decode to 392 MB apiece. Waiters are
// served in arrival order, so a large image is not starved by small ones.
// The zero value is not usable; call NewBudget.
type Budget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	waiters list.List // of *budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{}
}

// NewBudget returns a budget of size bytes.
func NewBudget(size int64) *Budget { return &Budget{size: size} }

// Size returns the budget's total in bytes.
func (b *Budget) Size() int64 { return b.size }

// Acquire waits until n bytes are free and takes them. It returns
// ErrOverBudget at once when n exceeds the whole budget, and ctx's error
// when ctx ends first (nothing is then taken).
func (b *Budget) Acquire(ctx context.Context, n int64) error {
	if n > b.size {
		return fmt.Errorf("%w (%w): needs %d MiB, budget %d MiB", ErrOverBudget, ErrTooManyPixels, mib(n), mib(b.size))
	}
	b.mu.Lock()
	if b.size-b.used >= n && b.waiters.Len() == 0 {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	elem := b.waiters.PushBack(w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready:
			// Granted while giving up: hand it back.
			b.used -= n
			b.notify()
		default:
			isFront := b.waiters.Front() == elem
			b.waiters.Remove(elem)
			if isFront {
				b.notify() // the next waiter may fit now
			}
		}
		b.mu.Unlock()
		return ctx.Err()
	}
}

// Release gives back n bytes taken by Acquire.
func (b *Budget) Release(n int64) {
	b.mu.Lock()
	b.used -= n
	if b.used < 0 {
		b.mu.Unlock()
		panic("photo: budget released more than acquired")
	}
	b.notify()
	b.mu.Unlock()
}

// notify grants waiters in order while they fit. The caller holds mu.
func (b *Budget) notify() {
	for {
		front := b.waiters.Front()
		if front == nil {
			return
		}
		w := front.Value.(*budgetWaiter)
		if b.size-b.used < w.n {
			return
		}
		b.used += w.n
		b.waiters.Remove(front)
		close(w.ready)
	}
}

func mib(n int64) int64 { return (n + 1<<20 - 1) >> 20 }

// DecodeCost estimates the bytes Process holds at its peak for an image
// whose header is cfg: the decoded pixels in the decoder's own format (not
// a pixel count: 16-bit RGBA PNG is 8 bytes a pixel, 4:2:0 JPEG 1.5,
// progressive JPEG adds its 4-byte coefficients per sample), plus the
// reduced working copies made on the way to the preview. data is read for
// what the config does not tell (JPEG sampling and progressive mode, PNG
// interlacing); anything it cannot read is assumed at its costliest.
func DecodeCost(format Format, cfg image.Config, data []byte, opts Options) int64 {
	opts = opts.withDefaults()
	px := int64(cfg.Width) * int64(cfg.Height)
	var decoded int64
	switch format {
	case PNG:
		decoded = px * pngBytesPerPixel(cfg.ColorModel)
		if pngInterlaced(data) {
			decoded *= 2 // the seven passes are decoded apart, then merged
		}
	default:
		samples, components, progressive := jpegFrame(data)
		decoded = px * samples / 64
		if components == 4 {
			decoded += px * 4 // CMYK: YCbCr and K planes, then a CMYK copy
		}
		if progressive {
			decoded += px * samples / 64 * 4 // one int32 coefficient per sample
		}
	}
	k := int64(max(cfg.Width, cfg.Height) / opts.PreviewSide)
	if k < 1 {
		k = 1
	}
	// Shrinking by k and resampling to the preview keep at most two NRGBA
	// copies of about px/k pixels (orientation, resize passes).
	work := 8 * px / k
	return decoded + work
}

// pngBytesPerPixel is the size of a pixel of the image png.Decode returns
// for the colour model png.DecodeConfig reports.
func pngBytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model:
		return 2
	case color.RGBAModel, color.NRGBAModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// pngInterlaced reads the interlace method of the IHDR chunk, which
// png.DecodeConfig does not report. Unreadable means interlaced (costlier).
func pngInterlaced(data []byte) bool {
	const ihdr = 8 + 4 + 4 // signature, chunk length, chunk type
	if len(data) < ihdr+13 || string(data[12:16]) != "IHDR" {
		return true
	}
	return data[ihdr+12] != 0
}

// jpegFrame reads the frame header (SOFn) of a JPEG: samples per pixel
// times 64 (so 4:2:0 YCbCr is 96, 4:4:4 is 192, grey 64), the number of
// components and whether it is progressive. Unreadable headers give the
// costliest answer the decoder accepts (4 components at full resolution,
// progressive).
func jpegFrame(data []byte) (samples64 int64, components int, progressive bool) {
	const worst, worstComponents = 4 * 64, 4
	i := 2 // after SOI
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return worst, worstComponents, true
		}
		marker := data[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8):
			i += 2 // no length
			continue
		case marker == 0xDA || marker == 0xD9: // scan or end before any frame
			return worst, worstComponents, true
		}
		segLen := int(binary.BigEndian.Uint16(data[i+2:]))
		if segLen < 2 || i+2+segLen > len(data) {
			return worst, worstComponents, true
		}
		seg := data[i+4 : i+2+segLen]
		if marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC {
			return frameSamples(seg, marker)
		}
		i += 2 + segLen
	}
	return worst, worstComponents, true
}

// frameSamples reads a SOFn segment body: precision, height, width,
// component count, then (id, sampling, table) per component.
func frameSamples(seg []byte, marker byte) (int64, int, bool) {
	const worst, worstComponents = 4 * 64, 4
	if len(seg) < 6 {
		return worst, worstComponents, true
	}
	n := int(seg[5])
	if n < 1 || n > 4 || len(seg) < 6+3*n {
		return worst, worstComponents, true
	}
	hMax, vMax := 1, 1
	for c := range n {
		hv := seg[6+3*c+1]
		hMax, vMax = max(hMax, int(hv>>4)), max(vMax, int(hv&0x0F))
	}
	var samples int64
	for c := range n {
		hv := seg[6+3*c+1]
		h, v := max(1, int(hv>>4)), max(1, int(hv&0x0F))
		samples += int64(64 * h * v / (hMax * vMax))
	}
	progressive := marker == 0xC2 || marker == 0xC6 || marker == 0xCA || marker == 0xCE
	return samples, n, progressive
}

package photo

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"time"

	"github.com/disintegration/imaging"

	"github.com/ruhu-dev/ruhu/chinatime"
)

// Options bound and shape processing. The zero value is the documented
// default for every field.
type Options struct {
	// MaxPixels refuses images whose header declares more pixels (width ×
	// height) with ErrTooManyPixels, before any pixel is decoded. Zero
	// means 50,000,000. Decoding costs about 1.5 bytes per pixel for JPEG
	// and 4 to 8 for PNG.
	MaxPixels int64
	// PreviewSide is the longest side of the preview in pixels. Zero
	// means 1280. Images already smaller are not enlarged.
	PreviewSide int
	// ThumbSide is the longest side of the thumbnail. Zero means 256.
	ThumbSide int
	// Quality is the JPEG quality of preview and thumbnail, 1 to 100.
	// Zero means 82.
	Quality int
	// Location reads EXIF local times that carry no offset. Nil means
	// China Standard Time (UTC+8, Asia/Shanghai).
	Location *time.Location
	// MemoryBudget bounds, in bytes, the memory a Processor lets all its
	// decodes hold at once, counted by DecodeCost (bytes of the decoded
	// format, not pixels). An image that needs more than the whole budget
	// is refused with ErrOverBudget before decoding. Zero means 160 MiB:
	// a 50-megapixel JPEG fits, two 12-megapixel ones decode side by
	// side, and the server stays under 300 MB resident. The package-level
	// Process, which has no Processor, does not apply it.
	MemoryBudget int64
}

func (o Options) withDefaults() Options {
	if o.MaxPixels <= 0 {
		o.MaxPixels = 50_000_000
	}
	if o.PreviewSide <= 0 {
		o.PreviewSide = 1280
	}
	if o.ThumbSide <= 0 {
		o.ThumbSide = 256
	}
	if o.Quality <= 0 || o.Quality > 100 {
		o.Quality = 82
	}
	if o.Location == nil {
		o.Location = chinatime.Zone()
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = 160 << 20
	}
	return o
}

// Processed is the outcome of Process. Width and Height are as displayed,
// that is after applying Meta.Orientation.
type Processed struct {
	Format        Format
	Width, Height int
	// Preview and Thumb are upright JPEGs without metadata.
	Preview                     []byte
	PreviewWidth, PreviewHeight int
	Thumb                       []byte
	ThumbWidth, ThumbHeight     int
	// PHash is the perceptual hash of the upright image (see PHash).
	PHash uint64
	Meta  Metadata
}

// Process checks, decodes and derives the preview, thumbnail, perceptual
// hash and metadata of one photo. Returns ErrUnsupportedType,
// ErrTooManyPixels or ErrCorrupt (also when a decoder panics: the panic is
// recovered and its message wrapped). It is safe for concurrent use; bound
// the concurrency with a Processor.
func Process(data []byte, opts Options) (*Processed, error) {
	opts = opts.withDefaults()
	var out *Processed
	err := guard(func() error {
		img, format, md, err := decodeChecked(data, opts)
		if err != nil {
			return err
		}
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		upright := orient(shrinkToward(img, opts.PreviewSide), md.Orientation)
		img = nil // let the full-size pixels go before encoding
		if md.Orientation >= 5 {
			w, h = h, w
		}
		preview := fitWithin(upright, w, h, opts.PreviewSide)
		opaque(preview) // thumbnail and hash see what the JPEG shows
		thumb := fitWithin(shrinkToward(preview, opts.ThumbSide), w, h, opts.ThumbSide)
		out = &Processed{Format: format, Width: w, Height: h, Meta: md, PHash: PHash(preview)}
		if out.Preview, err = encodeJPEG(preview, opts.Quality, nil); err != nil {
			return err
		}
		if out.Thumb, err = encodeJPEG(thumb, opts.Quality, nil); err != nil {
			return err
		}
		out.PreviewWidth, out.PreviewHeight = preview.Bounds().Dx(), preview.Bounds().Dy()
		out.ThumbWidth, out.ThumbHeight = thumb.Bounds().Dx(), thumb.Bounds().Dy()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// guard runs fn and turns a panic (a decoder bug on hostile input) into
// ErrCorrupt, so one bad upload never takes the server down.
func guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: decoder panic: %v", ErrCorrupt, r)
		}
	}()
	return fn()
}

// Check sniffs data and reads its declared size, refusing what Process
// would refuse before decoding: ErrUnsupportedType, ErrTooManyPixels,
// ErrCorrupt for an unreadable header. It costs microseconds, so upload
// handlers can call it on the first chunk.
func Check(data []byte, opts Options) (Format, image.Config, error) {
	opts = opts.withDefaults()
	var (
		format Format
		cfg    image.Config
	)
	err := guard(func() error {
		var err error
		format, cfg, err = checkHeader(data, opts)
		return err
	})
	return format, cfg, err
}

func checkHeader(data []byte, opts Options) (Format, image.Config, error) {
	format, err := Sniff(data)
	if err != nil {
		return "", image.Config{}, err
	}
	var cfg image.Config
	switch format {
	case JPEG:
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	case PNG:
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	}
	if err != nil {
		return format, cfg, fmt.Errorf("%w: %s header: %v", ErrCorrupt, format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return format, cfg, fmt.Errorf("%w: %s header declares %d×%d", ErrCorrupt, format, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > opts.MaxPixels {
		return format, cfg, fmt.Errorf("%w: %d×%d is %d pixels, limit %d", ErrTooManyPixels, cfg.Width, cfg.Height, px, opts.MaxPixels)
	}
	return format, cfg, nil
}

// decodeChecked refuses by header, then decodes the pixels and reads the
// metadata. The caller has installed guard.
func decodeChecked(data []byte, opts Options) (image.Image, Format, Metadata, error) {
	format, cfg, err := checkHeader(data, opts)
	if err != nil {
		return nil, format, Metadata{}, err
	}
	var img image.Image
	switch format {
	case JPEG:
		img, err = jpeg.Decode(bytes.NewReader(data))
	case PNG:
		img, err = png.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, format, Metadata{}, fmt.Errorf("%w: decode %s: %v", ErrCorrupt, format, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, format, Metadata{}, fmt.Errorf("%w: header says %d×%d, pixels are %d×%d", ErrCorrupt, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	return img, format, ReadMetadata(data, opts.Location), nil
}

// fitWithin resamples img, a reduced copy of an upright w×h original, so
// its longest side is at most side, never enlarging. The target size comes
// from the original's aspect ratio, not the reduced copy's, whose partial
// edge blocks may have shifted it by a pixel. Callers shrink by a box
// filter first, so the ratio here is below 2 and Catmull-Rom (bicubic) is
// as sharp as Lanczos at two thirds of the cost.
func fitWithin(img image.Image, w, h, side int) *image.NRGBA {
	tw, th := w, h
	if w > side || h > side {
		if w >= h {
			tw, th = side, max(1, int(math.Round(float64(h)*float64(side)/float64(w))))
		} else {
			tw, th = max(1, int(math.Round(float64(w)*float64(side)/float64(h)))), side
		}
	}
	if b := img.Bounds(); b.Dx() == tw && b.Dy() == th {
		if n, ok := img.(*image.NRGBA); ok {
			return n
		}
	}
	return imaging.Resize(img, tw, th, imaging.CatmullRom)
}

// orient applies an EXIF orientation (1 to 8) so the image is upright.
func orient(img image.Image, orientation int) image.Image {
	switch orientation {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img)
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img)
	}
	return img
}

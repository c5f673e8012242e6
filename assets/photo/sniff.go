package photo

import (
	"bytes"
	"errors"
)

// Errors callers branch on (the server maps them to stable 4xx codes).
var (
	// ErrUnsupportedType means the bytes are neither JPEG nor PNG.
	ErrUnsupportedType = errors.New("photo: unsupported type (JPEG and PNG only)")
	// ErrTooManyPixels means the header declares more pixels than allowed;
	// nothing was decoded.
	ErrTooManyPixels = errors.New("photo: too many pixels")
	// ErrCorrupt means the bytes claim a supported type but do not decode
	// (truncated, malformed, or the decoder panicked).
	ErrCorrupt = errors.New("photo: corrupt image")
)

// Format is a supported image encoding, named as in MIME subtypes.
type Format string

// Supported formats.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
)

// MIME returns the media type of f, for Content-Type headers.
func (f Format) MIME() string { return "image/" + string(f) }

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// Sniff identifies the format from the first bytes of data. It trusts
// nothing but the bytes (never a file name or a client's Content-Type).
// Returns ErrUnsupportedType for anything else.
func Sniff(data []byte) (Format, error) {
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return JPEG, nil
	case bytes.HasPrefix(data, pngSignature):
		return PNG, nil
	}
	return "", ErrUnsupportedType
}

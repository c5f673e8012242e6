package uploads

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// tus protocol constants.
const (
	// TusVersion is the only protocol version served.
	TusVersion = "1.0.0"
	// TusExtensions lists the extensions served, for Tus-Extension.
	TusExtensions = "creation,creation-with-upload,checksum,termination,expiration"
	// ChecksumAlgorithms lists the Upload-Checksum algorithms accepted.
	ChecksumAlgorithms = "sha256"
	// OffsetContentType is the media type every PATCH body must have.
	OffsetContentType = "application/offset+octet-stream"

	// StatusChecksumMismatch is tus's status for a chunk whose
	// Upload-Checksum does not match its bytes.
	StatusChecksumMismatch = 460
)

// Header limits: a client header larger than these is refused before any
// decoding work.
const (
	maxMetadataHeader = 4096
	maxMetadataPairs  = 32
)

// Header parsing errors; handlers answer them with 400 EINVALID.
var (
	ErrBadMetadata = errors.New("malformed Upload-Metadata")
	ErrBadChecksum = errors.New("malformed Upload-Checksum")
	ErrBadOffset   = errors.New("malformed offset or length")
	// ErrChecksumAlgorithm means a well-formed Upload-Checksum names an
	// algorithm other than sha256.
	ErrChecksumAlgorithm = errors.New("unsupported checksum algorithm")
)

// ParseMetadata decodes a tus Upload-Metadata header: comma-separated pairs
// of a key and an optional base64 (standard, padded) value. Keys must be
// non-empty ASCII without spaces or commas and unique. An empty header is
// an empty map.
func ParseMetadata(h string) (map[string]string, error) {
	out := map[string]string{}
	if len(h) > maxMetadataHeader {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrBadMetadata, maxMetadataHeader)
	}
	if strings.TrimSpace(h) == "" {
		return out, nil
	}
	for _, pair := range strings.Split(h, ",") {
		pair = strings.TrimSpace(pair)
		key, val, hasVal := strings.Cut(pair, " ")
		if key == "" {
			return nil, fmt.Errorf("%w: empty key", ErrBadMetadata)
		}
		for i := 0; i < len(key); i++ {
			if key[i] <= ' ' || key[i] > '~' {
				return nil, fmt.Errorf("%w: key %q is not printable ASCII", ErrBadMetadata, key)
			}
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%w: key %q repeated", ErrBadMetadata, key)
		}
		if len(out) == maxMetadataPairs {
			return nil, fmt.Errorf("%w: more than %d pairs", ErrBadMetadata, maxMetadataPairs)
		}
		var decoded []byte
		if hasVal {
			var err error
			if decoded, err = base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(val)); err != nil {
				return nil, fmt.Errorf("%w: value of %q is not base64", ErrBadMetadata, key)
			}
		}
		out[key] = string(decoded)
	}
	return out, nil
}

// EncodeMetadata is the inverse of ParseMetadata, keys in the given order.
func EncodeMetadata(keys []string, m map[string]string) string {
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v, ok := m[k]
		if !ok {
			continue
		}
		if v == "" {
			parts = append(parts, k)
			continue
		}
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(v)))
	}
	return strings.Join(parts, ",")
}

// ParseChecksum decodes an Upload-Checksum header, "<algorithm> <base64
// digest>". It returns ErrChecksumAlgorithm for an algorithm other than
// sha256 and ErrBadChecksum for anything malformed, including a digest of
// the wrong length.
func ParseChecksum(h string) ([]byte, error) {
	algo, b64, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || algo == "" || b64 == "" {
		return nil, fmt.Errorf("%w: want \"sha256 <base64>\"", ErrBadChecksum)
	}
	if !strings.EqualFold(algo, "sha256") {
		return nil, fmt.Errorf("%w %q (only sha256)", ErrChecksumAlgorithm, algo)
	}
	sum, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("%w: digest is not base64", ErrBadChecksum)
	}
	if len(sum) != 32 {
		return nil, fmt.Errorf("%w: sha256 digest has %d bytes, want 32", ErrBadChecksum, len(sum))
	}
	return sum, nil
}

// ParseOffset decodes Upload-Offset or Upload-Length: a non-negative
// decimal integer without sign, spaces or leading zeros beyond "0".
func ParseOffset(h string) (int64, error) {
	if h == "" || len(h) > 19 || (len(h) > 1 && h[0] == '0') {
		return 0, fmt.Errorf("%w: %q", ErrBadOffset, h)
	}
	for i := 0; i < len(h); i++ {
		if h[i] < '0' || h[i] > '9' {
			return 0, fmt.Errorf("%w: %q", ErrBadOffset, h)
		}
	}
	n, err := strconv.ParseInt(h, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrBadOffset, h)
	}
	return n, nil
}

package uploads

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"maps"
	"slices"
	"strconv"
	"testing"
)

func TestParseMetadata(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
		err  bool
	}{
		{"", map[string]string{}, false},
		{"sha256 YWJj,kind cGhvdG8=", map[string]string{"sha256": "abc", "kind": "photo"}, false},
		{"is_confidential,kind cGhvdG8=", map[string]string{"is_confidential": "", "kind": "photo"}, false},
		{" kind cGhvdG8= , area MzQw ", map[string]string{"kind": "photo", "area": "340"}, false},
		{"kind !!!", nil, true},
		{"kind cGhvdG8", nil, true}, // unpadded
		{"kind a,kind b", nil, true},
		{",", nil, true},
		{"k\x01y YQ==", nil, true},
		{"名 YQ==", nil, true},
	}
	for _, tc := range tests {
		got, err := ParseMetadata(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseMetadata(%q) error %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err != nil && !errors.Is(err, ErrBadMetadata) {
			t.Errorf("ParseMetadata(%q) error %v is not ErrBadMetadata", tc.in, err)
		}
		if !tc.err && !maps.Equal(got, tc.want) {
			t.Errorf("ParseMetadata(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseChecksum(t *testing.T) {
	sum := sha256.Sum256([]byte("chunk"))
	good := base64.StdEncoding.EncodeToString(sum[:])
	tests := []struct {
		in  string
		err error
	}{
		{"sha256 " + good, nil},
		{"SHA256 " + good, nil},
		{"sha1 " + good, ErrChecksumAlgorithm},
		{"sha256", ErrBadChecksum},
		{"sha256 " + good[:20], ErrBadChecksum},
		{"sha256 " + base64.StdEncoding.EncodeToString(sum[:16]), ErrBadChecksum},
		{"", ErrBadChecksum},
	}
	for _, tc := range tests {
		got, err := ParseChecksum(tc.in)
		if !errors.Is(err, tc.err) || (tc.err == nil && !bytes.Equal(got, sum[:])) {
			t.Errorf("ParseChecksum(%q) = %x, %v; want %v", tc.in, got, err, tc.err)
		}
	}
}

func TestParseOffset(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false}, {"1024", 1024, false}, {"9223372036854775807", 1<<63 - 1, false},
		{"", 0, true}, {"-1", 0, true}, {"+1", 0, true}, {"01", 0, true}, {"1 ", 0, true},
		{"9223372036854775808", 0, true}, {"1e3", 0, true}, {"0x10", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseOffset(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseOffset(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// FuzzTusHeaders feeds arbitrary Upload-Metadata, Upload-Checksum and
// Upload-Offset values to the parsers: they never panic, accepted
// metadata survives an encode/parse round trip, an accepted checksum is
// 32 bytes, and an accepted offset prints back to the same text.
func FuzzTusHeaders(f *testing.F) {
	f.Add("sha256 YWJj,kind cGhvdG8=", "sha256 "+base64.StdEncoding.EncodeToString(make([]byte, 32)), "0")
	f.Add("is_confidential", "sha1 AAAA", "18446744073709551616")
	f.Add(",,", "sha256 !!", "-0")
	f.Add("a YQ==,a YQ==", "", "007")
	f.Fuzz(func(t *testing.T, metaHeader, checksum, offset string) {
		if m, err := ParseMetadata(metaHeader); err == nil {
			keys := slices.Sorted(maps.Keys(m))
			again, err := ParseMetadata(EncodeMetadata(keys, m))
			if err != nil || !maps.Equal(again, m) {
				t.Fatalf("metadata %q: round trip gave %v, %v; want %v", metaHeader, again, err, m)
			}
		}
		if sum, err := ParseChecksum(checksum); err == nil && len(sum) != 32 {
			t.Fatalf("checksum %q accepted with %d bytes", checksum, len(sum))
		}
		if n, err := ParseOffset(offset); err == nil && strconv.FormatInt(n, 10) != offset {
			t.Fatalf("offset %q accepted as %d", offset, n)
		}
	})
}

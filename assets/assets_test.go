package assets_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ruhu-dev/ruhu/assets"
)

func TestExactReader(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		size    int64
		wantErr error
	}{
		{"exact", "hello", 5, nil},
		{"empty", "", 0, nil},
		{"short", "hell", 5, assets.ErrSizeMismatch},
		{"long", "hello!", 5, assets.ErrSizeMismatch},
		{"unknown size passes through", "anything", -1, nil},
	}
	for _, tc := range tests {
		for _, wrap := range []struct {
			name string
			fn   func(io.Reader) io.Reader
		}{{"plain", func(r io.Reader) io.Reader { return r }}, {"one byte at a time", iotest.OneByteReader}} {
			got, err := io.ReadAll(assets.ExactReader(wrap.fn(strings.NewReader(tc.data)), tc.size))
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%s/%s: err = %v, want %v", tc.name, wrap.name, err, tc.wantErr)
			}
			if tc.wantErr == nil && string(got) != tc.data {
				t.Errorf("%s/%s: read %q", tc.name, wrap.name, got)
			}
		}
	}
	// A consumer that stops after exactly size bytes (io.ReadFull, as S3
	// clients do) must never receive all of them from a longer source.
	buf := make([]byte, 5)
	if n, err := io.ReadFull(assets.ExactReader(strings.NewReader("hello!"), 5), buf); err == nil {
		t.Fatalf("ReadFull got %d bytes and no error from an oversized source", n)
	}
}

func TestPutVerifiedReaderWithholdsTheEnd(t *testing.T) {
	// Drive PutVerified with a store whose Put reads exactly size bytes
	// with io.ReadFull and stores them only if that succeeded: a wrong
	// hash must still keep the object out.
	data := []byte("field photo bytes")
	s := &readFullStore{}
	sum := sha256.Sum256(data)
	wrong := sha256.Sum256([]byte("other"))
	err := assets.PutVerified(t.Context(), s, "k", bytes.NewReader(data), int64(len(data)), hex.EncodeToString(wrong[:]))
	if !errors.Is(err, assets.ErrHashMismatch) || s.stored != nil {
		t.Fatalf("wrong hash: err %v, stored %q", err, s.stored)
	}
	if err := assets.PutVerified(t.Context(), s, "k", iotest.HalfReader(bytes.NewReader(data)), int64(len(data)), hex.EncodeToString(sum[:])); err != nil || !bytes.Equal(s.stored, data) {
		t.Fatalf("right hash: err %v, stored %q", err, s.stored)
	}
}

// readFullStore implements only Put; the other methods are never called.
type readFullStore struct {
	assets.Store
	stored []byte
}

func (s *readFullStore) Put(_ context.Context, _ string, r io.Reader, size int64) error {
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	s.stored = buf
	return nil
}

func TestKeys(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	tests := []struct {
		key  string
		want string
	}{
		{assets.OriginalKey(sha), "orig/ab/" + sha},
		{assets.PreviewKey(sha), "preview/ab/" + sha + ".jpg"},
		{assets.ThumbKey(sha), "thumb/ab/" + sha + ".jpg"},
	}
	for _, tc := range tests {
		if tc.key != tc.want || !assets.ValidKey(tc.key) {
			t.Errorf("key %q, want %q and valid", tc.key, tc.want)
		}
	}
	for _, bad := range []string{"ABC", strings.Repeat("a", 63), strings.Repeat("g", 64), ""} {
		if assets.ValidKey(assets.OriginalKey(bad)) {
			t.Errorf("OriginalKey(%q) is a valid key", bad)
		}
	}
	if assets.ValidKey(strings.Repeat("a", 513)) {
		t.Error("a 513-byte key is valid")
	}
}

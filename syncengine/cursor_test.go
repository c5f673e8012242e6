package syncengine_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

func TestCursorRoundTrip(t *testing.T) {
	tests := []syncengine.Cursor{
		{Epoch: "e1", Seq: 0},
		{Epoch: "7f3a9c0d2b1e4a56", Seq: 42},
		{Epoch: "x", Seq: ^uint64(0)},
		{},
	}
	for _, c := range tests {
		s := c.Encode()
		got, err := syncengine.DecodeCursor(s)
		if err != nil {
			t.Errorf("DecodeCursor(%q) from %+v: %v", s, c, err)
			continue
		}
		if got != c {
			t.Errorf("round trip of %+v gave %+v", c, got)
		}
	}
	if s := (syncengine.Cursor{}).Encode(); s != "" {
		t.Errorf("the zero cursor encodes as %q, want \"\"", s)
	}
}

func TestDecodeCursorRefusesGarbage(t *testing.T) {
	enc := func(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }
	tests := []struct{ name, s string }{
		{"not base64", "!!!"},
		{"padded base64", base64.URLEncoding.EncodeToString([]byte("c1:e:12"))},
		{"unknown version", enc("c2:e:1")},
		{"no epoch", enc("c1::1")},
		{"seq not a number", enc("c1:e:x")},
		{"negative seq", enc("c1:e:-1")},
		{"seq overflows", enc("c1:e:18446744073709551616")},
		{"extra part", enc("c1:e:1:2")},
		{"missing part", enc("c1:e")},
		{"empty seq", enc("c1:e:")},
		{"too long", enc("c1:" + strings.Repeat("e", 300) + ":1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := syncengine.DecodeCursor(tt.s)
			if code := syncengine.ErrorCode(err); code != syncengine.EINVALID {
				t.Fatalf("DecodeCursor(%q) = %+v, %v; want %s", tt.s, c, err, syncengine.EINVALID)
			}
		})
	}
}

// FuzzDecodeCursor checks that cursors sent by clients never crash the
// server, and that whatever is accepted encodes back to the same cursor.
func FuzzDecodeCursor(f *testing.F) {
	for _, s := range []string{
		"", (syncengine.Cursor{Epoch: "e", Seq: 9}).Encode(), "!!!", "YzE6ZTox", "YzE6OjE",
		base64.RawURLEncoding.EncodeToString([]byte("c1:e:007")),
		base64.RawURLEncoding.EncodeToString([]byte("c1:\xff\x00:1")),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := syncengine.DecodeCursor(s)
		if err != nil {
			if code := syncengine.ErrorCode(err); code != syncengine.EINVALID {
				t.Fatalf("DecodeCursor(%q) error %v has code %q", s, err, code)
			}
			return
		}
		if s != "" && c.Epoch == "" {
			t.Fatalf("DecodeCursor(%q) accepted a cursor without an epoch", s)
		}
		back, err := syncengine.DecodeCursor(c.Encode())
		if err != nil {
			t.Fatalf("cursor %+v accepted from %q does not decode after Encode: %v", c, s, err)
		}
		if back != c {
			t.Fatalf("cursor %+v from %q round-trips to %+v", c, s, back)
		}
	})
}

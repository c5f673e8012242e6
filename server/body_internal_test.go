package server

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

func gzipped(t *testing.T, text string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withTrailerSize rewrites the gzip trailer's length field (not checked
// before the data is read): gunzipBody only takes it as a size hint.
func withTrailerSize(b []byte, n uint32) []byte {
	out := bytes.Clone(b)
	binary.LittleEndian.PutUint32(out[len(out)-4:], n)
	return out
}

func TestGunzipBody(t *testing.T) {
	s := &Server{}
	big := strings.Repeat(`{"op":"visit"},`, 10000)
	tests := []struct {
		name  string
		body  []byte
		limit int
		want  string
		code  string // "" when accepted
	}{
		{"small", gzipped(t, `{"ops":[]}`), 1 << 20, `{"ops":[]}`, ""},
		{"larger than the first buffer", gzipped(t, big), 1 << 20, big, ""},
		{"exactly the limit", gzipped(t, big), len(big), big, ""},
		{"one byte over the limit", gzipped(t, big), len(big) - 1, "", syncengine.ETOOLARGE},
		{"empty", gzipped(t, ""), 10, "", ""},
		{"two members", append(gzipped(t, "ab"), gzipped(t, "cd")...), 10, "abcd", ""},
		{"not gzip", []byte(`{"ops":[]}`), 1 << 20, "", syncengine.EINVALID},
		{"cut short", gzipped(t, big)[:100], 1 << 20, "", syncengine.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Twice: the second run takes a reader from the pool.
			for range 2 {
				got, err := s.gunzipBody(tt.body, tt.limit)
				if code := syncengine.ErrorCode(err); err != nil && code != tt.code || err == nil && tt.code != "" {
					t.Fatalf("error %v, want code %q", err, tt.code)
				}
				if err == nil && string(got) != tt.want {
					t.Fatalf("got %d bytes, want %d", len(got), len(tt.want))
				}
			}
		})
	}
	// A lying trailer only changes the first buffer's size.
	for _, n := range []uint32{0, 1, 100, uint32(len(big)) * 4, 1<<32 - 1} {
		got, err := s.gunzipBody(withTrailerSize(gzipped(t, big), n), 1<<20)
		// The trailer is checked at the end of the stream: a wrong length
		// is refused as a corrupt body, whatever hint it gave.
		if err == nil || syncengine.ErrorCode(err) != syncengine.EINVALID {
			t.Fatalf("trailer length %d: got %d bytes, err %v; want EINVALID", n, len(got), err)
		}
	}
}

// BenchmarkGunzipPushBody inflates a push-sized body: 1,000 ops of about
// 900 bytes of JSON each, as a tablet gzips them.
func BenchmarkGunzipPushBody(b *testing.B) {
	var text strings.Builder
	text.WriteString(`{"ops":[`)
	for i := range 1000 {
		if i > 0 {
			text.WriteByte(',')
		}
		fmt.Fprintf(&text, `{"id":"op-solo-%08d","record_id":"v-solo-%08d","collection":"visits","area":"340199001001","author":"solo","device":"dev-solo","hlc":%d,`+
			`"set":{"household_id":"h-solo","officer":"solo","visited_at":"2026-12-02T14:%02d:%02dZ","gps":{"lat":31.7%04d,"lon":117.14021,"accuracy_m":8.5},`+
			`"checklist":{"food":"ok","clothing":"ok","education":"ok","medical":"problem","housing":"ok","drinking_water":"ok"},"notes":"户主在家，家中老人慢性病需定期复查，已联系村医上门随访 %d。",`+
			`"answered_by_name":"张建国","answered_by_relation":"head","photo_sha256s":["%064x","%064x","%064x"]}}`,
			i, i, 1<<40+i*7919, i/60%60, i%60, i, i*31, i*104729, i*1299709, i*15485863)
	}
	text.WriteString(`]}`)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write([]byte(text.String()))
	zw.Close()
	body := buf.Bytes()
	s := &Server{}
	b.SetBytes(int64(text.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.gunzipBody(body, 16<<20); err != nil {
			b.Fatal(err)
		}
	}
}

package client_test

import (
	"context"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// FuzzPullResponse feeds arbitrary pull answers to a tablet: whatever the
// server (or a broken proxy) sends, Sync must fail with a coded error or
// store something the tablet can read back, never panic or corrupt the file.
func FuzzPullResponse(f *testing.F) {
	seeds := []string{
		`{"records":[],"cursor":"","more":false}`,
		`{"records":[{"id":"h1","col":"households","area":"340199001001","f":{"head_name":{"v":"\"甲\"","h":1,"d":"x","a":"y","o":"op"}}}],"cursor":"YzE6ZXAxOjE","more":false}`,
		`{"records":[{"id":"a/b","col":"households","area":"1","f":{}}],"cursor":"x","more":false}`,
		`{"records":[{"id":"m1","col":"members","area":"340199001001","f":{"id_number":{"v":{"$sealed":"AAAA"},"h":5}}}],"more":false}`,
		`{"records":[{"id":"h1","col":"households","f":null}],"reset":true,"more":false}`,
		`{"records":null,"cursor":"c","more":true}`,
		`not json`,
		``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	srv := newFakeServer(f)
	tb := newTablet(f, srv, nil)
	tb.save(f, "households", "h1", household("甲"))
	f.Fuzz(func(t *testing.T, body []byte) {
		srv.set(func(s *fakeServer) { s.pullBody = body })
		_, err := tb.Sync(context.Background(), nil)
		if err != nil && syncengine.ErrorCode(err) == "" {
			t.Fatalf("uncoded error %v", err)
		}
		if _, err := tb.Status(); err != nil {
			t.Fatalf("status after a fuzzed pull: %v", err)
		}
		if _, err := tb.Query("households", nil); err != nil {
			t.Fatalf("query after a fuzzed pull: %v", err)
		}
		if _, err := tb.Query("members", nil); err != nil {
			t.Fatalf("query members after a fuzzed pull: %v", err)
		}
	})
}

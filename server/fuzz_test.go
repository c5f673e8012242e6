package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// FuzzPushDecode feeds arbitrary bytes as a push body, plain or declared
// gzip, through the real handler with a valid device token. Whatever the
// bytes, the answer is a 200 or a 4xx with a stable code, never a panic
// nor a 5xx.
func FuzzPushDecode(f *testing.F) {
	ts := startServer(f, serverOptions{cfg: server.Config{BodyLimit: 64 << 10}, users: pick(testUsers(), "wang"), seed: standardSeed()})
	wang := ts.as("wang")
	valid, _ := json.Marshal(syncengine.PushRequest{Ops: []syncengine.WireOp{
		ts.op(wang, "fz-1", "households", "hV1b", areaV1, map[string]any{"address": "x"}),
		ts.op(wang, "fz-2", "visits", "fz-visit", areaV1, visitFields("hV1a", "wang")),
	}})
	for _, seed := range [][]byte{
		valid, []byte(`{"ops":[]}`), []byte(`{"ops":null}`), []byte(`{}`), []byte(`null`), []byte(``),
		[]byte(`{"ops":[{"id":"a","rid":"b","col":"households","area":"340199001001","by":"wang","dev":"` + wang.device + `","hlc":18446744073709551615,"set":{"address":"x"}}]}`),
		[]byte(`{"ops":[{"id":"a","rid":"b","col":"visits","area":"340199001001","by":"wang","dev":"` + wang.device + `","hlc":1,"del":{"reason":"x"},"base":{"_deleted":"z"}}]}`),
		[]byte(`{"ops":[{"id":"a","rid":"b","col":"households","area":"340199001001","by":"wang","dev":"x","hlc":"abc"}]}`),
		[]byte(`{"ops":[{"set":{"a":` + string(bytes.Repeat([]byte("["), 10000)) + `}}]}`),
	} {
		f.Add(seed, false)
	}
	f.Add(gzipBytes(f, valid), true)
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, true)

	app := ts.srv.App()
	f.Fuzz(func(t *testing.T, body []byte, gzipped bool) {
		req := httptest.NewRequest(http.MethodPost, "/v1/sync/push", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+wang.access)
		req.Header.Set("Content-Type", "application/json")
		if gzipped {
			req.Header.Set("Content-Encoding", "gzip")
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatalf("app.Test: %v", err)
		}
		defer resp.Body.Close()
		var answer struct {
			Code  string          `json:"code"`
			Acked json.RawMessage `json:"acked"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
			t.Fatalf("status %d with an undecodable body: %v", resp.StatusCode, err)
		}
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("status %d %s for body %q", resp.StatusCode, answer.Code, body)
		case resp.StatusCode == 200 && answer.Acked == nil:
			t.Fatalf("200 without acks for body %q", body)
		case resp.StatusCode != 200 && answer.Code != syncengine.EINVALID && answer.Code != syncengine.ETOOLARGE:
			t.Fatalf("status %d code %q for body %q", resp.StatusCode, answer.Code, body)
		}
	})
}

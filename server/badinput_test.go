package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/syncengine"
)

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPushRefusedWhole sends bodies that must be refused as a whole: none
// of the valid ops they carry may be applied.
func TestPushRefusedWhole(t *testing.T) {
	const limit = 256 << 10
	ts := startServer(t, serverOptions{cfg: server.Config{BodyLimit: limit}, users: testUsers()[3:4], seed: standardSeed()})
	wang := ts.as("wang")
	valid := ts.op(wang, "whole-ok", "households", "hV1b", areaV1, map[string]any{"address": "applied only if the body is good"})
	validJSON, _ := json.Marshal(valid)
	body := func(format string) []byte { return []byte(fmt.Sprintf(format, validJSON)) }

	manyOps := make([]syncengine.WireOp, syncengine.MaxPushOps+1)
	for i := range manyOps {
		manyOps[i] = ts.op(wang, fmt.Sprintf("many-%04d", i), "households", "hV1b", areaV1, map[string]any{"address": "x"})
	}
	many, _ := json.Marshal(syncengine.PushRequest{Ops: manyOps})
	// A JSON body whose one op carries a note larger than the limit.
	big := body(`{"ops":[%s,{"id":"big","rid":"hV1b","col":"households","area":"340199001001","by":"wang","dev":"x","hlc":1,"set":{"notes":"` + strings.Repeat("x", limit+1) + `"}}]}`)
	// A gzip bomb: under the limit on the wire, 64 times the limit inflated.
	bomb := gzipBytes(t, body(`{"ops":[%s],"device_time":1`+strings.Repeat(" ", 64*limit)+`}`))
	if len(bomb) >= limit {
		t.Fatalf("bomb is %d bytes compressed, not under the limit", len(bomb))
	}

	tests := []struct {
		name     string
		body     []byte
		header   []string
		status   int
		code     string
		mentions string // the message names what is wrong
	}{
		{"malformed JSON", body(`{"ops":[%s,`), nil, 400, syncengine.EINVALID, "JSON"},
		{"not an object", []byte(`[1,2,3]`), nil, 400, syncengine.EINVALID, ""},
		{"empty body", nil, nil, 400, syncengine.EINVALID, ""},
		{"hlc is a string", body(`{"ops":[%s,{"id":"x","rid":"hV1b","col":"households","area":"340199001001","by":"wang","dev":"d","hlc":"abc","set":{"address":"y"}}]}`), nil, 400, syncengine.EINVALID, "hlc"},
		{"ops is an object", []byte(`{"ops":{"id":"x"}}`), nil, 400, syncengine.EINVALID, "ops"},
		{"set value is a string map", body(`{"ops":[%s,{"id":"x","rid":"hV1b","col":"households","area":"340199001001","by":"wang","dev":"d","hlc":5,"set":"address"}]}`), nil, 400, syncengine.EINVALID, "set"},
		{"negative hlc", body(`{"ops":[%s,{"id":"x","rid":"hV1b","col":"households","area":"340199001001","by":"wang","dev":"d","hlc":-1,"set":{"address":"y"}}]}`), nil, 400, syncengine.EINVALID, "hlc"},
		{"unknown top-level field", body(`{"ops":[%s],"force":true}`), nil, 400, syncengine.EINVALID, "force"},
		{"unknown op field", body(`{"ops":[%s,{"id":"x","rid":"hV1b","col":"households","area":"340199001001","by":"wang","dev":"d","hlc":5,"collection":"households"}]}`), nil, 400, syncengine.EINVALID, "collection"},
		{"trailing data", body(`{"ops":[%s]} {"ops":[]}`), nil, 400, syncengine.EINVALID, ""},
		{"too many ops", many, nil, 413, syncengine.ETOOLARGE, fmt.Sprint(syncengine.MaxPushOps)},
		{"body over the limit", big, nil, 413, syncengine.ETOOLARGE, ""},
		{"gzip bomb", bomb, []string{"Content-Encoding", "gzip"}, 413, syncengine.ETOOLARGE, ""},
		{"gzip header on a plain body", body(`{"ops":[%s]}`), []string{"Content-Encoding", "gzip"}, 400, syncengine.EINVALID, "gzip"},
		{"truncated gzip", gzipBytes(t, body(`{"ops":[%s]}`))[:40], []string{"Content-Encoding", "gzip"}, 400, syncengine.EINVALID, "gzip"},
		{"unsupported encoding", body(`{"ops":[%s]}`), []string{"Content-Encoding", "br"}, 400, syncengine.EINVALID, "encoding"},
	}
	before := ts.lastSeq()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("POST", "/v1/sync/push", wang.access, tc.body, tc.header...)
			ts.expectError(r, tc.status, tc.code)
			if !strings.Contains(strings.ToLower(string(r.body)), strings.ToLower(tc.mentions)) {
				t.Errorf("message does not mention %q: %s", tc.mentions, r.body)
			}
			if ts.lastSeq() != before {
				t.Fatalf("a refused body changed the store")
			}
			if p := ts.pull(wang, "", 0); slices.ContainsFunc(p.Records, func(w syncengine.WireRecord) bool {
				return w.Fields["address"].OpID == valid.ID
			}) {
				t.Fatalf("the valid op of a refused body was applied")
			}
		})
	}

	// The same op in a well-formed gzip body is applied: the refusals
	// above were about the bodies, not the op.
	r := ts.do("POST", "/v1/sync/push", wang.access, gzipBytes(t, body(`{"ops":[%s]}`)), "Content-Encoding", "gzip")
	var resp syncengine.PushResponse
	if err := json.Unmarshal(r.body, &resp); r.status != 200 || err != nil || !acked(resp, valid.ID) {
		t.Fatalf("gzip push of a valid op: %s", r)
	}
	if got := jsonString(ts.storeRecord("households", "hV1b").Fields["address"].Value); got != "applied only if the body is good" {
		t.Errorf("address after the good push: %q", got)
	}

	// Other endpoints refuse bad input whole too.
	ts.expectError(ts.do("GET", "/v1/records/nosuch/x", wang.access, nil), 400, syncengine.EINVALID)
	ts.expectError(ts.do("POST", "/v1/auth/login", "", []byte(`{"username":"wang","password":"`+testPassword+`","otp":1}`)), 400, syncengine.EINVALID)
	ts.expectError(ts.do("POST", "/v1/auth/login", "", []byte(`{"username":`)), 400, syncengine.EINVALID)
	ts.expectError(ts.do("GET", "/v1/nosuch", wang.access, nil), 404, syncengine.ENOTFOUND)
}

// TestPushPartialBatch mixes invalid ops among valid ones: each bad op is
// refused with its code and a message naming the field, the others are
// applied, and re-sending the batch changes nothing.
func TestPushPartialBatch(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers()[3:4], seed: standardSeed()})
	wang := ts.as("wang")

	type opCase struct {
		op       syncengine.WireOp
		code     string // "" = acked
		mentions string
	}
	badArea := ts.op(wang, "bad-area", "households", "hV1b", "34019900100", map[string]any{"address": "x"})
	cases := []opCase{
		{ts.op(wang, "ok-edit", "households", "hV1b", areaV1, map[string]any{"address": "新地址", "member_count": 4}), "", ""},
		{badArea, syncengine.EINVALID, "area"},
		{ts.op(wang, "bad-field", "households", "hV1b", areaV1, map[string]any{"favourite_colour": "red"}), syncengine.EINVALID, "favourite_colour"},
		{ts.op(wang, "bad-type", "households", "hV1b", areaV1, map[string]any{"member_count": "three"}), syncengine.EINVALID, "member_count"},
		{ts.op(wang, "bad-enum", "households", "hV1b", areaV1, map[string]any{"housing_grade": "E"}), syncengine.EINVALID, "housing_grade"},
		{ts.op(wang, "bad-overwrite", "visits", "visV1", areaV1, map[string]any{"visited_at": "2026-02-27T10:00:00+08:00"}), syncengine.EINVALID, "visited_at"},
		// Evidence is created once and afterwards only annotated: a field
		// left empty at creation cannot be filled in later either.
		{ts.op(wang, "bad-add-after-create", "visits", "visV1", areaV1, map[string]any{"notes": "补写"}), syncengine.EINVALID, "notes"},
		{ts.op(wang, "bad-create", "households", "hNew-missing", areaV1, map[string]any{"status": map[string]any{"value": "poor"}, "primary_cause": "illness"}), syncengine.EINVALID, "head_name"},
		{ts.op(wang, "bad-unknown-col", "granaries", "g1", areaV1, map[string]any{"tons": 3}), syncengine.EINVALID, "granaries"},
		{ts.op(wang, "bad-delete", "households", "hNone", areaV1, nil), syncengine.EINVALID, "reason"},
		{ts.op(wang, "ok-create", "households", "hNew", areaV1, createFields("households", areaV1, "wang")), "", ""},
		{ts.op(wang, "ok-annotate", "visits", "visV1", areaV1, map[string]any{"review_note": "复核无误"}), "", ""},
	}
	cases[9].op.Delete = &syncengine.Tombstone{Reason: " "}
	cases[9].op.Set = nil
	ops := make([]syncengine.WireOp, len(cases))
	for i, c := range cases {
		ops[i] = c.op
	}

	historyLen := func() map[string]int {
		out := map[string]int{}
		for _, k := range []string{"households/hV1b", "households/hNew", "visits/visV1"} {
			col, id, _ := strings.Cut(k, "/")
			out[k] = len(ts.record(wang.access, col, id).History)
		}
		return out
	}

	first := ts.push(wang, ops...)
	for _, c := range cases {
		rej, refused := rejection(first, c.op.ID)
		if c.code == "" {
			if !acked(first, c.op.ID) {
				t.Errorf("%s: want acked, got %+v", c.op.ID, rej)
			}
			continue
		}
		if !refused || rej.Code != c.code || !strings.Contains(rej.Message, c.mentions) {
			t.Errorf("%s: want %s naming %q, got %+v", c.op.ID, c.code, c.mentions, rej)
		}
	}
	hv := ts.storeRecord("households", "hV1b")
	if jsonString(hv.Fields["address"].Value) != "新地址" || string(hv.Fields["member_count"].Value) != "4" {
		t.Errorf("valid edit not applied: %+v", hv.Values())
	}
	if _, ok := hv.Fields["favourite_colour"]; ok {
		t.Errorf("refused field stored")
	}
	if vis := ts.storeRecord("visits", "visV1"); jsonString(vis.Fields["visited_at"].Value) != "2026-02-28T10:00:00+08:00" || jsonString(vis.Fields["review_note"].Value) != "复核无误" {
		t.Errorf("visit after batch: %+v", vis.Values())
	}
	if ts.storeRecord("households", "hNew-missing") != nil || ts.storeRecord("households", "hNone") != nil {
		t.Errorf("a refused create was stored")
	}
	hist := historyLen()
	want := map[string]int{"households/hV1b": 2, "households/hNew": 1, "visits/visV1": 2}
	for k, n := range want {
		if hist[k] != n {
			t.Errorf("history of %s has %d ops, want %d", k, hist[k], n)
		}
	}

	// Re-sending the same batch (a tablet that lost the answer) changes
	// nothing and gets the same answer.
	seq := ts.lastSeq()
	second := ts.push(wang, ops...)
	if !slices.Equal(first.Acked, second.Acked) {
		t.Errorf("acks differ on resend: %v then %v", first.Acked, second.Acked)
	}
	codes := func(r syncengine.PushResponse) []string {
		var out []string
		for _, rj := range r.Rejected {
			out = append(out, rj.OpID+":"+rj.Code)
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(codes(first), codes(second)) {
		t.Errorf("rejections differ on resend: %v then %v", codes(first), codes(second))
	}
	if ts.lastSeq() != seq {
		t.Errorf("resend moved the change sequence from %d to %d", seq, ts.lastSeq())
	}
	if got := historyLen(); !mapsEqual(got, hist) {
		t.Errorf("history after resend %v, want %v", got, hist)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

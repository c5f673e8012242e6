package server_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// decodeNumbers decodes a JSON answer keeping numbers as json.Number, so a
// test can tell an integer on the wire from a string.
func decodeNumbers(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var out map[string]any
	if err := d.Decode(&out); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return out
}

// wireHLC reads an HLC member of a decoded answer, failing unless it is a
// JSON integer (the one wire format of HLCs).
func wireHLC(t *testing.T, where string, v any) uint64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%s: hlc %#v is not a JSON number", where, v)
	}
	var h uint64
	if err := json.Unmarshal([]byte(n), &h); err != nil {
		t.Fatalf("%s: hlc %s is not an unsigned integer: %v", where, n, err)
	}
	return h
}

// TestHLCOneWireFormat: a field's HLC is the same JSON integer in a
// pulled record ("h"), in the record view's versions, in its history and
// in a conflict's candidates.
func TestHLCOneWireFormat(t *testing.T) {
	seed := standardSeed()
	ts := startServer(t, serverOptions{users: testUsers(), seed: seed})
	wang, town := ts.as("wang"), ts.as("township")
	stamps := map[string]uint64{} // op id -> its stamp
	for _, op := range seed {
		stamps[op.ID] = uint64(op.HLC)
	}

	pulled := map[string]uint64{} // field of hV1a -> "h"
	for cursor, more := "", true; more; {
		r := ts.do("GET", pullPath(cursor, 500), wang.access, nil)
		if r.status != 200 {
			t.Fatalf("pull: %s", r)
		}
		page := decodeNumbers(t, r.body)
		for _, rec := range page["records"].([]any) {
			rec := rec.(map[string]any)
			if rec["col"] != "households" || rec["id"] != "hV1a" {
				continue
			}
			for name, f := range rec["f"].(map[string]any) {
				pulled[name] = wireHLC(t, "pull f."+name, f.(map[string]any)["h"])
			}
		}
		cursor, more = page["cursor"].(string), page["more"] == true
	}
	if len(pulled) == 0 {
		t.Fatal("wang's pull lacks households/hV1a")
	}

	r := ts.do("GET", "/v1/records/households/hV1a?history=1", wang.access, nil)
	if r.status != 200 {
		t.Fatalf("get record: %s", r)
	}
	view := decodeNumbers(t, r.body)
	versions := view["record"].(map[string]any)["versions"].(map[string]any)
	for name, h := range pulled {
		v, ok := versions[name].(map[string]any)
		if !ok {
			t.Fatalf("versions lack %s", name)
		}
		if got := wireHLC(t, "versions."+name, v["hlc"]); got != h {
			t.Errorf("versions.%s.hlc = %d, pull h = %d", name, got, h)
		}
		if at, _ := v["time"].(string); at != syncengine.HLC(h).Time().Format("2006-01-02T15:04:05.999Z07:00") {
			t.Errorf("versions.%s.time = %q, want the wall time of %d", name, at, h)
		}
	}
	history := view["history"].([]any)
	if len(history) < 3 {
		t.Fatalf("history of hV1a has %d ops, want the creation and two phone writes", len(history))
	}
	for _, h := range history {
		h := h.(map[string]any)
		id := h["id"].(string)
		if got := wireHLC(t, "history "+id, h["hlc"]); got != stamps[id] {
			t.Errorf("history %s: hlc %d, the op was stamped %d", id, got, stamps[id])
		}
	}

	r = ts.do("GET", "/v1/conflicts", town.access, nil)
	if r.status != 200 {
		t.Fatalf("conflicts: %s", r)
	}
	var checked int
	for _, cf := range decodeNumbers(t, r.body)["conflicts"].([]any) {
		cf := cf.(map[string]any)
		if cf["record_id"] != "hV1a" {
			continue
		}
		for _, c := range cf["candidates"].([]any) {
			c := c.(map[string]any)
			id := c["op_id"].(string)
			if got := wireHLC(t, "candidate "+id, c["hlc"]); got != stamps[id] {
				t.Errorf("candidate %s: hlc %d, the op was stamped %d", id, got, stamps[id])
			}
			checked++
		}
	}
	if checked != 2 {
		t.Errorf("checked %d candidates of hV1a's conflict, want 2", checked)
	}
}

// TestRecordIDPercentDecoded: ids may hold characters reserved in URLs
// ('?', '#', '%', ':', '+'); a client escapes them in the path and the
// server looks up the decoded id, for reading, editing and conflicts.
func TestRecordIDPercentDecoded(t *testing.T) {
	const id = "hV1a?x#y%z:w+v"
	var b seedBuilder
	b.add("villages", "vV1", areaV1, map[string]any{"code": areaV1, "name": "村", "township_code": "340199001",
		"center": map[string]any{"lat": 31.7, "lon": 117.1}})
	created := b.add("households", id, areaV1, map[string]any{"head_name": "户主", "status": map[string]any{"value": "exited", "year": 2019},
		"phone": "13800000000", "primary_cause": "illness"})
	for _, phone := range []string{"13811111111", "13822222222"} {
		op := b.add("households", id, areaV1, map[string]any{"phone": phone})
		op.Base = map[string]string{"phone": created.ID}
	}
	ts := startServer(t, serverOptions{users: pick(testUsers(), "township"), seed: b.ops})
	town := ts.as("township")
	escaped := url.PathEscape(id)
	if escaped == id {
		t.Fatalf("%q needs no escaping: the test proves nothing", id)
	}

	var got recordResponse
	ts.mustJSON("GET", "/v1/records/households/"+escaped, town.access, nil, 200, &got)
	if got.Record.ID != id {
		t.Errorf("GET escaped id: record id %q, want %q", got.Record.ID, id)
	}

	open := ts.conflicts(town.access, "")
	if len(open) != 1 || open[0].RecordID != id {
		t.Fatalf("conflicts %+v: want one on %q", open, id)
	}
	var resolved conflictJSON
	ts.mustJSON("POST", "/v1/conflicts/"+url.PathEscape(open[0].ID)+"/resolve", town.access, map[string]any{"note": "核实"}, 200, &resolved)
	if resolved.Status != "resolved" || resolved.RecordID != id {
		t.Errorf("resolve: %+v", resolved)
	}
}

package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

type conflictJSON struct {
	ID         string `json:"id"`
	RecordID   string `json:"record_id"`
	Field      string `json:"field"`
	Status     string `json:"status"`
	Candidates []struct {
		Value  json.RawMessage `json:"value"`
		Author string          `json:"author"`
		Device string          `json:"device"`
		OpID   string          `json:"op_id"`
		Winner bool            `json:"winner"`
	} `json:"candidates"`
	Resolution *struct {
		By    string          `json:"by"`
		At    time.Time       `json:"at"`
		Value json.RawMessage `json:"value"`
		OpID  string          `json:"op_id"`
		Note  string          `json:"note"`
	} `json:"resolution"`
}

func (ts *testServer) conflicts(token, query string) []conflictJSON {
	ts.t.Helper()
	var out struct {
		Conflicts []conflictJSON `json:"conflicts"`
	}
	ts.mustJSON("GET", "/v1/conflicts"+query, token, nil, 200, &out)
	return out.Conflicts
}

func conflictsOn(list []conflictJSON, record, field string) []conflictJSON {
	var out []conflictJSON
	for _, c := range list {
		if c.RecordID == record && c.Field == field {
			out = append(out, c)
		}
	}
	return out
}

// TestConflictsOverHTTP: two officers assigned to the same household change
// the same field from the same base on their tablets. The server keeps the
// deterministic winner, opens one conflict with both candidates, and a
// township supervisor overrides it with a third value.
func TestConflictsOverHTTP(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers()[2:5], seed: standardSeed()})
	wang, li, township := ts.as("wang"), ts.as("li"), ts.as("township")
	base := ts.storeRecord("households", "hV1a").Fields["status"].OpID

	w := ts.op(wang, "w-status", "households", "hV1a", areaV1, map[string]any{"status": map[string]any{"value": "monitored", "year": 2026}})
	w.Base = map[string]string{"status": base}
	l := ts.op(li, "l-status", "households", "hV1a", areaV1, map[string]any{"status": map[string]any{"value": "fellback", "year": 2026}})
	l.Base = map[string]string{"status": base}
	if r := ts.push(wang, w); !acked(r, w.ID) {
		t.Fatalf("wang: %+v", r)
	}
	if r := ts.push(li, l); !acked(r, l.ID) {
		t.Fatalf("li: %+v", r)
	}
	ts.push(wang, w) // a resend does not add a candidate

	open := conflictsOn(ts.conflicts(township.access, "?status=open&area=340199001"), "hV1a", "status")
	if len(open) != 1 {
		t.Fatalf("want one open conflict on hV1a.status, got %+v", open)
	}
	c := open[0]
	if len(c.Candidates) != 2 || c.Candidates[0].OpID != l.ID || !c.Candidates[0].Winner || c.Candidates[1].OpID != w.ID || c.Candidates[1].Winner {
		t.Fatalf("candidates %+v: want li's later write first and winning, then wang's", c.Candidates)
	}
	if c.Candidates[0].Author != "li" || c.Candidates[1].Author != "wang" {
		t.Errorf("candidate authors %+v", c.Candidates)
	}
	// The winner is applied, on the record and for everyone pulling it.
	if v := ts.storeRecord("households", "hV1a").Fields["status"]; v.OpID != l.ID {
		t.Errorf("record status written by %s, want the winner %s", v.OpID, l.ID)
	}
	// Another area prefix filters it out; an officer in scope sees it.
	if got := conflictsOn(ts.conflicts(township.access, "?area=340199001002"), "hV1a", "status"); len(got) != 0 {
		t.Errorf("area filter: %+v", got)
	}
	if got := conflictsOn(ts.conflicts(wang.access, ""), "hV1a", "status"); len(got) != 1 {
		t.Errorf("officer's list: %+v", got)
	}
	ts.expectError(ts.do("GET", "/v1/conflicts?status=maybe", township.access, nil), 400, syncengine.EINVALID)
	ts.expectError(ts.do("GET", "/v1/conflicts?area=34a", township.access, nil), 400, syncengine.EINVALID)

	// Bad resolutions change nothing.
	ts.expectError(ts.do("POST", "/v1/conflicts/"+c.ID+"/resolve", township.access, map[string]any{"value": map[string]any{"value": "rich"}}), 400, syncengine.EINVALID)
	ts.expectError(ts.do("POST", "/v1/conflicts/"+c.ID+"/resolve", township.access, []byte(`{"value":`)), 400, syncengine.EINVALID)

	chosen := map[string]any{"value": "poor", "year": 2026}
	var resolved conflictJSON
	ts.mustJSON("POST", "/v1/conflicts/"+c.ID+"/resolve", township.access, map[string]any{"value": chosen, "note": "入户核实"}, 200, &resolved)
	if resolved.Status != syncengine.ConflictResolved || resolved.Resolution == nil || resolved.Resolution.By != "township" || resolved.Resolution.OpID == "" ||
		resolved.Resolution.Note != "入户核实" || !resolved.Resolution.At.Equal(ts.clock.Now()) || !syncengine.JSONEqual(resolved.Resolution.Value, mustJSON(chosen)) {
		t.Fatalf("resolution %+v", resolved)
	}
	rec := ts.record(township.access, "households", "hV1a")
	var status map[string]any
	_ = json.Unmarshal(rec.Record.Fields["status"], &status)
	if status["value"] != "poor" {
		t.Errorf("record status after resolution: %s", rec.Record.Fields["status"])
	}
	last := rec.History[len(rec.History)-1]
	if last.ID != resolved.Resolution.OpID || last.Author != "township" || !syncengine.JSONEqual(last.Set["status"], mustJSON(chosen)) {
		t.Errorf("last history entry %+v, want the supervisor's op %s", last, resolved.Resolution.OpID)
	}
	// Both officers' values stay in history.
	seen := map[string]bool{}
	for _, h := range rec.History {
		seen[h.ID] = true
	}
	if !seen[w.ID] || !seen[l.ID] {
		t.Errorf("history lost a candidate: %v", seen)
	}
	// The supervisor's choice reaches the tablets.
	p := ts.pull(wang, "", 0)
	for _, r := range p.Records {
		if r.ID == "hV1a" && r.Fields["status"].OpID != resolved.Resolution.OpID {
			t.Errorf("pulled status written by %s", r.Fields["status"].OpID)
		}
	}
	ts.expectError(ts.do("POST", "/v1/conflicts/"+c.ID+"/resolve", township.access, map[string]any{"value": chosen}), 409, syncengine.ECONFLICT)
	if got := conflictsOn(ts.conflicts(township.access, ""), "hV1a", "status"); len(got) != 0 {
		t.Errorf("resolved conflict still listed as open: %+v", got)
	}
	if got := conflictsOn(ts.conflicts(township.access, "?status=resolved"), "hV1a", "status"); len(got) != 1 {
		t.Errorf("resolved list: %+v", got)
	}

	// Confirming the winner (no value) keeps the record as it is.
	phone := seededConflictID(t, ts, "hV1a")
	before := ts.storeRecord("households", "hV1a").Fields["phone"]
	var confirmed conflictJSON
	ts.mustJSON("POST", "/v1/conflicts/"+phone+"/resolve", township.access, map[string]any{"note": "winner is right"}, 200, &confirmed)
	if confirmed.Resolution == nil || confirmed.Resolution.OpID != "" || !syncengine.JSONEqual(confirmed.Resolution.Value, before.Value) {
		t.Errorf("confirmation %+v", confirmed.Resolution)
	}
	if after := ts.storeRecord("households", "hV1a").Fields["phone"]; after.OpID != before.OpID {
		t.Errorf("confirming the winner rewrote the field")
	}
}

// TestResolveAfterRestart: a conflict whose candidates are stamped a little
// ahead of the server clock (within the allowance) is resolved by a server
// process that has just started and remembers no stamps. The supervisor's
// choice must still win.
func TestResolveAfterRestart(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers()[2:5], seed: standardSeed()})
	wang, li := ts.as("wang"), ts.as("li")
	base := ts.storeRecord("households", "hV1a").Fields["head_name"].OpID
	ahead := ts.clock.Now().Add(3 * time.Minute).UnixMilli()
	w := ts.op(wang, "w-head", "households", "hV1a", areaV1, map[string]any{"head_name": "张建国"})
	w.HLC, w.Base = uint64(syncengine.MakeHLC(ahead, 1)), map[string]string{"head_name": base}
	l := ts.op(li, "l-head", "households", "hV1a", areaV1, map[string]any{"head_name": "张建军"})
	l.HLC, l.Base = uint64(syncengine.MakeHLC(ahead, 2)), map[string]string{"head_name": base}
	for _, p := range []struct {
		s  *session
		op syncengine.WireOp
	}{{wang, w}, {li, l}} {
		if r := ts.push(p.s, p.op); !acked(r, p.op.ID) || len(r.Flagged) != 0 {
			t.Fatalf("push %s: %+v", p.op.ID, r)
		}
	}
	open := conflictsOn(ts.conflicts(wang.access, ""), "hV1a", "head_name")
	if len(open) != 1 {
		t.Fatalf("open conflicts on head_name: %+v", open)
	}

	ts.restart()
	township := ts.as("township")
	var resolved conflictJSON
	ts.mustJSON("POST", "/v1/conflicts/"+open[0].ID+"/resolve", township.access, map[string]any{"value": "张建华"}, 200, &resolved)
	if got := jsonString(ts.storeRecord("households", "hV1a").Fields["head_name"].Value); got != "张建华" {
		t.Errorf("head_name after resolution by a restarted server: %q, want the supervisor's 张建华", got)
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

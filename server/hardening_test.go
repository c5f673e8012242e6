package server_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestPushReusedOpIDIsRefused reproduces issue 10, bug 3 over HTTP: a push
// of 1,000 ops sharing one op id with different contents was fully
// acknowledged and only the first applied; a later op reusing the id for
// another household was acknowledged and not applied. Now only the first
// (and identical resends) are acked; every other content is refused on its
// own with ECONFLICT.
func TestPushReusedOpIDIsRefused(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers()[2:5], seed: standardSeed()})
	wang := ts.as("wang")
	const id = "op-reused"
	ops := make([]syncengine.WireOp, syncengine.MaxPushOps)
	for i := range ops {
		ops[i] = ts.op(wang, id, "households", "hV1b", areaV1, map[string]any{"phone": fmt.Sprintf("139%08d", i)})
	}
	ops[999] = ops[0] // one identical resend inside the batch
	resp := ts.push(wang, ops...)
	if len(resp.Acked) != 2 || resp.Acked[0] != id || resp.Acked[1] != id {
		t.Fatalf("acked %d ops %v, want the first and its identical resend", len(resp.Acked), resp.Acked[:min(3, len(resp.Acked))])
	}
	if len(resp.Rejected) != 998 {
		t.Fatalf("%d rejections, want 998", len(resp.Rejected))
	}
	for _, r := range resp.Rejected {
		if r.OpID != id || r.Code != syncengine.ECONFLICT || !strings.Contains(r.Message, "already used for a different op") {
			t.Fatalf("rejection %+v", r)
		}
	}
	if got := jsonString(ts.storeRecord("households", "hV1b").Fields["phone"].Value); got != "13900000000" {
		t.Errorf("phone %q, want the first op's", got)
	}

	// A later op reusing the id for another household is refused too.
	other := ts.op(wang, id, "households", "hV2a", areaV2, map[string]any{"phone": "13700000000"})
	resp = ts.push(wang, other)
	if r, ok := rejection(resp, id); !ok || r.Code != syncengine.ECONFLICT {
		t.Fatalf("reuse for another household: %+v", resp)
	}
	// The identical op sent again is acked, idempotently, as before.
	resp = ts.push(wang, ops[0])
	if !acked(resp, id) {
		t.Fatalf("identical resend: %+v", resp)
	}
}

// TestPushRefusesOddValues reproduces the ops of issue 10, bug 5 that were
// accepted: a NUL byte and a lone surrogate (\ud800, escaped) in a string
// value, a deletion reason of 100 KB, an HLC of the maximum uint64. Each is
// refused on its own with EINVALID; the good op of the batch is applied.
func TestPushRefusesOddValues(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers()[2:5], seed: standardSeed()})
	wang := ts.as("wang")
	good := ts.op(wang, "op-good", "households", "hV1b", areaV1, map[string]any{"address": "东村1号"})
	maxHLC := ts.op(wang, "op-maxhlc", "households", "hV1b", areaV1, map[string]any{"address": "东村2号"})
	maxHLC.HLC = math.MaxUint64
	bigReason := ts.op(wang, "op-reason", "households", "hV1b", areaV1, nil)
	bigReason.Set, bigReason.Delete = nil, &syncengine.Tombstone{Reason: strings.Repeat("迁", 100<<10/3)}
	body, err := json.Marshal(syncengine.PushRequest{Ops: []syncengine.WireOp{good, maxHLC, bigReason}})
	if err != nil {
		t.Fatal(err)
	}
	// Hand-written JSON for the strings encoding/json would not produce.
	raw := func(opID, value string) string {
		w := ts.op(wang, opID, "households", "hV1b", areaV1, map[string]any{"address": "x"})
		b, _ := json.Marshal(w)
		return strings.Replace(string(b), `"address":"x"`, `"address":`+value, 1)
	}
	bodyText := strings.TrimSuffix(string(body), "]}") + "," + raw("op-nul", `"东村\u0000"`) + "," + raw("op-surrogate", `"东村\ud800"`) + "]}"
	r := ts.do("POST", "/v1/sync/push", wang.access, []byte(bodyText))
	if r.status != 200 {
		t.Fatalf("push: %s", r)
	}
	var resp syncengine.PushResponse
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	if !acked(resp, "op-good") || len(resp.Acked) != 1 {
		t.Errorf("acked %v, want only op-good", resp.Acked)
	}
	for _, id := range []string{"op-maxhlc", "op-reason", "op-nul", "op-surrogate"} {
		if rej, ok := rejection(resp, id); !ok || rej.Code != syncengine.EINVALID {
			t.Errorf("%s: %+v, want EINVALID", id, rej)
		}
	}
	if got := jsonString(ts.storeRecord("households", "hV1b").Fields["address"].Value); got != "东村1号" {
		t.Errorf("address %q", got)
	}
}

package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestOutOfScopeLooksUnknown: a record, or a conflict, outside the
// caller's scope gets exactly the answer an id that names nothing gets, on
// push, record reads and conflict resolution (issue 10, bug 2). Before the
// core treated such records as absent, an officer of township 340199001
// pushing an edit of 河湾村's household hV3a under his own village's code
// was told "area code 340199001001 differs from the record's 340199002001"
// while GET of the record answered 404.
func TestOutOfScopeLooksUnknown(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers(), seed: standardSeed()})
	wang, township := ts.as("wang"), ts.as("township")
	const unknown = "hNoSuchHousehold"

	pushTests := []struct {
		name string
		op   func(rid string) syncengine.WireOp
	}{
		{"edit under an area in scope", func(rid string) syncengine.WireOp {
			return ts.op(wang, "probe-edit", "households", rid, areaV1, map[string]any{"address": "桃园村1组"})
		}},
		{"edit under the record's own area", func(rid string) syncengine.WireOp {
			return ts.op(wang, "probe-edit-own", "households", rid, areaV3, map[string]any{"address": "桃园村1组"})
		}},
		{"delete", func(rid string) syncengine.WireOp {
			op := ts.op(wang, "probe-delete", "households", rid, areaV1, nil)
			op.Set, op.Delete = nil, &syncengine.Tombstone{Reason: "duplicate"}
			return op
		}},
	}
	for _, tt := range pushTests {
		t.Run("push "+tt.name, func(t *testing.T) {
			hidden := ts.push(wang, tt.op("hV3a"))
			absent := ts.push(wang, tt.op(unknown))
			h, ok := rejection(hidden, tt.op("").ID)
			if !ok {
				t.Fatalf("edit of an out-of-scope record was not rejected: %+v", hidden)
			}
			a, ok := rejection(absent, tt.op("").ID)
			if !ok {
				t.Fatalf("edit of an unknown record was not rejected: %+v", absent)
			}
			if h.Code != a.Code || h.Message != a.Message {
				t.Errorf("out of scope answers %s %q, unknown answers %s %q", h.Code, h.Message, a.Code, a.Message)
			}
			if strings.Contains(h.Message, areaV3) && tt.op("").Area != areaV3 {
				t.Errorf("the answer names the hidden record's area: %q", h.Message)
			}
		})
	}
	if got := jsonString(ts.storeRecord("households", "hV3a").Values()["address"]); got == "桃园村1组" {
		t.Fatal("the out-of-scope record was changed")
	}

	// A whole valid record under an id held out of scope cannot be
	// created, and the refusal names no area.
	whole := ts.op(wang, "probe-create", "households", "hV3a", areaV1, map[string]any{"head_name": "李四",
		"status": map[string]any{"value": "exited", "year": 2019}})
	r := ts.push(wang, whole)
	if rej, ok := rejection(r, whole.ID); !ok || strings.Contains(rej.Message, areaV3) {
		t.Errorf("creation under an out-of-scope id: %+v", r)
	}

	t.Run("record", func(t *testing.T) {
		hidden := ts.do("GET", "/v1/records/households/hV3a", wang.access, nil)
		absent := ts.do("GET", "/v1/records/households/"+unknown, wang.access, nil)
		assertSameError(t, hidden, absent, "hV3a", unknown)
	})
	t.Run("resolve", func(t *testing.T) {
		id := seededConflictID(t, ts, "hV3a")
		hidden := ts.do("POST", "/v1/conflicts/"+id+"/resolve", township.access, map[string]any{})
		absent := ts.do("POST", "/v1/conflicts/c-no-such/resolve", township.access, map[string]any{})
		assertSameError(t, hidden, absent, id, "c-no-such")
	})
}

// assertSameError requires two error answers to be the same but for the
// id each names.
func assertSameError(t *testing.T, hidden, absent response, hiddenID, absentID string) {
	t.Helper()
	var h, a struct{ Code, Message string }
	_ = json.Unmarshal(hidden.body, &h)
	_ = json.Unmarshal(absent.body, &a)
	if hidden.status != absent.status || h.Code != a.Code || strings.ReplaceAll(h.Message, hiddenID, "ID") != strings.ReplaceAll(a.Message, absentID, "ID") {
		t.Errorf("out of scope answers %s, unknown answers %s", hidden, absent)
	}
	if absent.status != 404 {
		t.Errorf("unknown answers %s, want 404", absent)
	}
}

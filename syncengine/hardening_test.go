package syncengine_test

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestOpValidateRefusesOddities reproduces the ops of issue 10, bug 5 that
// were accepted: a deletion reason of 100 KB and an HLC of the maximum
// uint64 (the NUL and lone surrogate in field values are schemas' part).
func TestOpValidateRefusesOddities(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(op *syncengine.Op)
		ok     bool
	}{
		{"hlc of the maximum uint64", func(op *syncengine.Op) { op.HLC = math.MaxUint64 }, false},
		{"hlc one past MaxHLC", func(op *syncengine.Op) { op.HLC = syncengine.MaxHLC + 1 }, false},
		{"hlc at MaxHLC", func(op *syncengine.Op) { op.HLC = syncengine.MaxHLC }, true},
		{"deletion reason of 100 KB", func(op *syncengine.Op) {
			op.Set, op.Base = nil, nil
			op.Tombstone = &syncengine.Tombstone{Reason: strings.Repeat("x", 100<<10)}
		}, false},
		{"deletion reason at the limit", func(op *syncengine.Op) {
			op.Set, op.Base = nil, nil
			op.Tombstone = &syncengine.Tombstone{Reason: strings.Repeat("迁", syncengine.MaxReasonLen/3)}
		}, true},
		{"deletion reason with NUL", func(op *syncengine.Op) {
			op.Set, op.Base = nil, nil
			op.Tombstone = &syncengine.Tombstone{Reason: "迁出\x00"}
		}, false},
		{"deletion reason with invalid UTF-8", func(op *syncengine.Op) {
			op.Set, op.Base = nil, nil
			op.Tombstone = &syncengine.Tombstone{Reason: "迁出\xed\xa0\x80"}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := validOp()
			tt.mutate(op)
			err := op.Validate()
			if tt.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok && syncengine.ErrorCode(err) != syncengine.EINVALID {
				t.Fatalf("code %q, want EINVALID", syncengine.ErrorCode(err))
			}
		})
	}
	// A lone surrogate in the reason arrives as U+FFFD once JSON-decoded.
	var w syncengine.WireOp
	if err := json.Unmarshal([]byte(`{"id":"o1","rid":"r1","col":"household","area":"530102001001","by":"a","dev":"d","hlc":1,"del":{"reason":"迁出\ud800"}}`), &w); err != nil {
		t.Fatal(err)
	}
	if err := w.FromWire().Validate(); syncengine.ErrorCode(err) != syncengine.EINVALID {
		t.Errorf("reason with a lone surrogate: %v, want EINVALID", err)
	}
	// MaxHLC still formats as a time JSON can carry.
	if _, err := json.Marshal(syncengine.MaxHLC.Time()); err != nil {
		t.Errorf("MaxHLC time does not marshal: %v", err)
	}
}

// digestStore is a memStore that remembers op digests, as the server's
// store does.
type digestStore struct{ *memStore }

func (s digestStore) AcceptedDigest(id string) (string, bool, error) {
	op, ok := s.ops[id]
	if !ok {
		return "", false, nil
	}
	return syncengine.OpDigest(op), true, nil
}

// TestApplyRefusesAReusedOpID reproduces issue 10, bug 3 at the engine: ops
// sharing one op id with different contents were all taken as resends
// (acknowledged, not applied). With a store that keeps digests, an
// identical resend stays a duplicate and any other content is ECONFLICT.
func TestApplyRefusesAReusedOpID(t *testing.T) {
	st := digestStore{newMemStore()}
	pol := syncengine.MergePolicy{}
	mustApplyTx(t, st, phoneOp("op-1", 10, "dev-a", "111", ""), pol)
	before := st.snapshot()
	if res := mustApplyTx(t, st, phoneOp("op-1", 10, "dev-a", "111", ""), pol); !res.Duplicate {
		t.Fatalf("identical resend: %+v, want a duplicate", res)
	}
	reused := []*syncengine.Op{
		phoneOp("op-1", 10, "dev-a", "999", ""),
		phoneOp("op-1", 11, "dev-a", "111", ""),
		phoneOp("op-1", 10, "dev-a", "111", "op-0"),
		func() *syncengine.Op { op := phoneOp("op-1", 10, "dev-a", "111", ""); op.RecordID = "other"; return op }(),
	}
	for i, op := range reused {
		_, err := syncengine.Apply(st, op, pol, applyNow)
		if syncengine.ErrorCode(err) != syncengine.ECONFLICT {
			t.Errorf("reuse %d: %v, want ECONFLICT", i, err)
		}
	}
	if got := st.snapshot(); !reflect.DeepEqual(got, before) {
		t.Errorf("refused reuses changed the store")
	}
}

// TestOpDigest: the digest ignores what the server adds and whitespace,
// and sees everything the writer made.
func TestOpDigest(t *testing.T) {
	base := validOp()
	d := syncengine.OpDigest(base)
	same := validOp()
	same.Set["name"] = json.RawMessage(` "张三" `)
	same.AddFlag(syncengine.FlagRestamped)
	same.StatedHLC, same.HLC = same.HLC, same.HLC+1000
	same.ReceivedAt = time.Unix(1, 0)
	if got := syncengine.OpDigest(same); got != d {
		t.Errorf("server additions or whitespace changed the digest")
	}
	if err := syncengine.CheckResend(base, same); err != nil {
		t.Errorf("CheckResend(identical) = %v", err)
	}
	for name, mutate := range map[string]func(*syncengine.Op){
		"value":         func(op *syncengine.Op) { op.Set["name"] = json.RawMessage(`"李四"`) },
		"field":         func(op *syncengine.Op) { op.Set["phone"] = json.RawMessage(`"1"`) },
		"record":        func(op *syncengine.Op) { op.RecordID = "r2" },
		"area":          func(op *syncengine.Op) { op.Area = "530102001002" },
		"stamp":         func(op *syncengine.Op) { op.HLC++ },
		"base":          func(op *syncengine.Op) { op.Base["name"] = "x" },
		"tombstone":     func(op *syncengine.Op) { op.Tombstone = &syncengine.Tombstone{Reason: "r"} },
		"device time":   func(op *syncengine.Op) { op.DeviceTime = time.UnixMilli(5) },
		"clock suspect": func(op *syncengine.Op) { op.AddFlag(syncengine.FlagClockSuspect) },
		"author":        func(op *syncengine.Op) { op.Author = "li.si" },
	} {
		op := validOp()
		mutate(op)
		if syncengine.OpDigest(op) == d {
			t.Errorf("changing the %s kept the digest", name)
		}
		if err := syncengine.CheckResend(base, op); syncengine.ErrorCode(err) != syncengine.ECONFLICT {
			t.Errorf("CheckResend after changing the %s = %v, want ECONFLICT", name, err)
		}
	}
	stored := validOp()
	stored.Digest = "recorded-digest"
	if err := syncengine.CheckResend(stored, validOp()); syncengine.ErrorCode(err) != syncengine.ECONFLICT {
		t.Errorf("CheckResend ignores the recorded digest: %v", err)
	}
}

// TestConflictCandidatesStayBounded is issue 10, item 9: a field written
// concurrently 10,000 times kept adding candidates to one open conflict,
// and each op rewrote the growing conflict. Candidates are deduplicated by
// value and capped; the winner is always kept.
func TestConflictCandidatesStayBounded(t *testing.T) {
	const writes = 10_000
	for _, tc := range []struct {
		name     string
		values   int
		wantCand int
	}{
		{"distinct values", writes, syncengine.MaxConflictCandidates},
		{"three values", 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			pol := syncengine.MergePolicy{}
			mustApplyTx(t, st, phoneOp("op-base", 1, "dev-0", "base", ""), pol)
			maxCand := 0
			for i := range writes {
				// Every write from the same base: all concurrent. Stamps
				// shuffle so winners arrive in any order.
				hlc := syncengine.HLC(2 + (i*7919)%writes)
				op := phoneOp(fmt.Sprintf("op-%05d", i), hlc, fmt.Sprintf("dev-%d", i%50), fmt.Sprintf("v%d", i%tc.values), "op-base")
				res := mustApplyTx(t, st, op, pol)
				for _, c := range res.Conflicts {
					maxCand = max(maxCand, len(c.Candidates))
				}
			}
			open := st.conflictsOn("household", "rec-1", "phone")
			if len(open) != 1 {
				t.Fatalf("%d conflicts, want one", len(open))
			}
			c := open[0]
			if len(c.Candidates) != tc.wantCand || maxCand > syncengine.MaxConflictCandidates {
				t.Errorf("%d candidates (at most %d on the way), want %d", len(c.Candidates), maxCand, tc.wantCand)
			}
			if cur := st.records["household/rec-1"].Fields["phone"]; c.Winner().OpID != cur.OpID {
				t.Errorf("conflict winner %s, record holds %s", c.Winner().OpID, cur.OpID)
			}
			seen := map[string]bool{}
			for i, cand := range c.Candidates {
				if seen[string(cand.Value)] {
					t.Errorf("value %s listed twice", cand.Value)
				}
				seen[string(cand.Value)] = true
				if i > 0 && !syncengine.Wins(c.Candidates[i-1], cand) {
					t.Errorf("candidates out of order at %d", i)
				}
			}
			if len(st.history) != writes+1 {
				t.Errorf("history holds %d ops, want every write", len(st.history))
			}
		})
	}
}

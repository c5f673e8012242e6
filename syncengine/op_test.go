package syncengine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

func validOp() *syncengine.Op {
	return &syncengine.Op{
		ID: "01J0000000000000000000000A", RecordID: "01J0000000000000000000000B", Collection: "household",
		Area: testArea, Author: "zhang.san", Device: "tablet-7", HLC: hlcAt(t0, 0),
		Set:  map[string]json.RawMessage{"name": json.RawMessage(`"张三"`)},
		Base: map[string]string{"name": "01J00000000000000000000009"},
	}
}

func TestOpValidate(t *testing.T) {
	long := strings.Repeat("x", syncengine.MaxIDLen+1)
	tests := []struct {
		name   string
		mutate func(op *syncengine.Op)
		ok     bool
	}{
		{"valid", func(op *syncengine.Op) {}, true},
		{"valid tombstone with a base", func(op *syncengine.Op) {
			op.Set = nil
			op.Tombstone = &syncengine.Tombstone{Reason: "household moved away"}
			op.Base = map[string]string{syncengine.DeletedField: ""}
		}, true},
		{"id of the maximum length", func(op *syncengine.Op) { op.ID = long[1:] }, true},
		{"empty op id", func(op *syncengine.Op) { op.ID = "" }, false},
		{"long op id", func(op *syncengine.Op) { op.ID = long }, false},
		{"op id with a slash", func(op *syncengine.Op) { op.ID = "a/b" }, false},
		{"op id with a space", func(op *syncengine.Op) { op.ID = "a b" }, false},
		{"op id with a non-ASCII rune", func(op *syncengine.Op) { op.ID = "户1" }, false},
		{"empty record id", func(op *syncengine.Op) { op.RecordID = "" }, false},
		{"long record id", func(op *syncengine.Op) { op.RecordID = long }, false},
		{"record id with a slash", func(op *syncengine.Op) { op.RecordID = "../etc" }, false},
		{"empty collection", func(op *syncengine.Op) { op.Collection = "" }, false},
		{"long collection", func(op *syncengine.Op) { op.Collection = long }, false},
		{"collection with a slash", func(op *syncengine.Op) { op.Collection = "house/hold" }, false},
		{"area of 11 digits", func(op *syncengine.Op) { op.Area = testArea[:11] }, false},
		{"area of 13 digits", func(op *syncengine.Op) { op.Area = testArea + "0" }, false},
		{"area with a letter", func(op *syncengine.Op) { op.Area = "53010200100A" }, false},
		{"empty area", func(op *syncengine.Op) { op.Area = "" }, false},
		{"no author", func(op *syncengine.Op) { op.Author = "" }, false},
		{"no device", func(op *syncengine.Op) { op.Device = "" }, false},
		{"no stamp", func(op *syncengine.Op) { op.HLC = 0 }, false},
		{"no fields", func(op *syncengine.Op) { op.Set = nil; op.Base = nil }, false},
		{"empty set", func(op *syncengine.Op) { op.Set = map[string]json.RawMessage{}; op.Base = nil }, false},
		{"bad JSON value", func(op *syncengine.Op) { op.Set["name"] = json.RawMessage(`{"a":`) }, false},
		{"empty JSON value", func(op *syncengine.Op) { op.Set["name"] = nil }, false},
		{"reserved field name", func(op *syncengine.Op) { op.Set["_owner"] = json.RawMessage(`1`) }, false},
		{"tombstone field set directly", func(op *syncengine.Op) {
			op.Set[syncengine.DeletedField] = json.RawMessage(`{"reason":"x"}`)
		}, false},
		{"empty field name", func(op *syncengine.Op) { op.Set[""] = json.RawMessage(`1`) }, false},
		{"long field name", func(op *syncengine.Op) { op.Set[long] = json.RawMessage(`1`) }, false},
		{"base names a field not set", func(op *syncengine.Op) { op.Base["phone"] = "op-1" }, false},
		{"base names the tombstone without one", func(op *syncengine.Op) { op.Base[syncengine.DeletedField] = "op-1" }, false},
		{"delete without reason", func(op *syncengine.Op) { op.Tombstone = &syncengine.Tombstone{} }, false},
		{"delete with a blank reason", func(op *syncengine.Op) { op.Tombstone = &syncengine.Tombstone{Reason: " \t"} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := validOp()
			tt.mutate(op)
			err := op.Validate()
			if tt.ok {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if code := syncengine.ErrorCode(err); code != syncengine.EINVALID {
				t.Fatalf("Validate() = %v (code %q), want %s", err, code, syncengine.EINVALID)
			}
		})
	}
}

func TestOpChanges(t *testing.T) {
	op := validOp()
	op.Set["address"] = json.RawMessage(`"村口"`)
	op.Tombstone = &syncengine.Tombstone{Reason: "迁出"}
	got := op.Changes()
	var names []string
	for _, w := range got {
		names = append(names, w.Name)
	}
	if want := []string{syncengine.DeletedField, "address", "name"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Changes() names = %v, want %v", names, want)
	}
	if string(got[0].Value) != `{"reason":"迁出"}` {
		t.Errorf("tombstone value = %s", got[0].Value)
	}
}

func TestValidAreaPrefix(t *testing.T) {
	tests := []struct {
		p    string
		want bool
	}{
		{"5", true}, {"530102", true}, {testArea, true},
		{"", false}, {testArea + "1", false}, {"53a", false}, {"-1", false},
	}
	for _, tt := range tests {
		if got := syncengine.ValidAreaPrefix(tt.p); got != tt.want {
			t.Errorf("ValidAreaPrefix(%q) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	coded := syncengine.Errorf(syncengine.EFORBIDDEN, "area %s is outside your scope", testArea)
	tests := []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string
	}{
		{"nil", nil, "", ""},
		{"coded", coded, syncengine.EFORBIDDEN, "area 530102001001 is outside your scope"},
		{"wrapped", fmt.Errorf("push op 1: %w", coded), syncengine.EFORBIDDEN, "area 530102001001 is outside your scope"},
		{"plain", errors.New("disk on fire at /var/lib/ruhu"), syncengine.EINTERNAL, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := syncengine.ErrorCode(tt.err); got != tt.wantCode {
				t.Errorf("ErrorCode = %q, want %q", got, tt.wantCode)
			}
			if got := syncengine.ErrorMessage(tt.err); got != tt.wantMsg {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.wantMsg)
			}
		})
	}
	if got := coded.Error(); got != "EFORBIDDEN: area 530102001001 is outside your scope" {
		t.Errorf("Error() = %q", got)
	}
}

func TestWireOpRoundTrip(t *testing.T) {
	op := validOp()
	op.Tombstone = &syncengine.Tombstone{Reason: "重复登记"}
	op.DeviceTime = time.UnixMilli(t0 - 5).UTC()
	op.ServerTimeEst = time.UnixMilli(t0 + 7).UTC()
	op.AddFlag(syncengine.FlagClockSuspect)
	raw, err := json.Marshal(syncengine.PushRequest{Ops: []syncengine.WireOp{op.ToWire()}})
	if err != nil {
		t.Fatal(err)
	}
	var req syncengine.PushRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	got := req.Ops[0].FromWire()
	if !reflect.DeepEqual(got, op) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, op)
	}
	// Server-side flags other than clock_suspect do not travel from the tablet.
	op.AddFlag(syncengine.FlagRestamped)
	if w := op.ToWire(); w.FromWire().HasFlag(syncengine.FlagRestamped) {
		t.Error("a tablet could claim the restamped flag")
	}
}

func TestWireRecordRoundTrip(t *testing.T) {
	op := validOp()
	op.AddFlag(syncengine.FlagRestamped)
	rec, _ := mustApply(t, nil, op, syncengine.MergePolicy{})
	raw, err := json.Marshal(syncengine.PullResponse{Records: []syncengine.WireRecord{rec.ToWire()}})
	if err != nil {
		t.Fatal(err)
	}
	var resp syncengine.PullResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	if got := resp.Records[0].FromWire(); !reflect.DeepEqual(got, rec) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, rec)
	}
}

// FuzzWireOp feeds arbitrary push bodies through the server's decode path:
// JSON into PushRequest, FromWire, Validate. It must never panic, and an op
// that validates must survive a wire round trip and merge into an empty
// record with exactly its fields.
func FuzzWireOp(f *testing.F) {
	seed, _ := json.Marshal(syncengine.PushRequest{Ops: []syncengine.WireOp{validOp().ToWire()}, DeviceTime: t0})
	f.Add(seed)
	f.Add([]byte(`{"ops":[{"id":"a","rid":"b","col":"c","area":"530102001001","by":"u","dev":"d","hlc":1,"del":{"reason":"r"},"base":{"_deleted":"x"}}]}`))
	f.Add([]byte(`{"ops":[{"id":"a/b","set":{"x":1},"base":{"y":"z"}}]}`))
	f.Add([]byte(`{"ops":[{"id":"a","rid":"b","col":"c","area":"530102001001","by":"u","dev":"d","hlc":18446744073709551615,"set":{"":null,"_x":1}}]}`))
	f.Add([]byte(`{"ops":null}`))
	f.Add([]byte(`{"ops":[{"set":{"x":}}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var req syncengine.PushRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		for _, w := range req.Ops {
			op := w.FromWire()
			if err := op.Validate(); err != nil {
				if code := syncengine.ErrorCode(err); code != syncengine.EINVALID {
					t.Fatalf("Validate error %v has code %q", err, code)
				}
				continue
			}
			again := op.ToWire()
			raw, err := json.Marshal(again)
			if err != nil {
				t.Fatalf("marshal a valid op: %v", err)
			}
			var back syncengine.WireOp
			if err := json.Unmarshal(raw, &back); err != nil {
				t.Fatalf("decode %s: %v", raw, err)
			}
			if err := back.FromWire().Validate(); err != nil {
				t.Fatalf("valid op invalid after a round trip: %v", err)
			}
			rec, out, err := syncengine.ApplyOp(nil, op, syncengine.MergePolicy{AppendOnly: true})
			if err != nil {
				t.Fatalf("valid op refused on an empty record: %v", err)
			}
			if len(out.Contests) != 0 || len(rec.Values()) != len(op.Set) {
				t.Fatalf("new record from %+v: values %v, contests %v", op, rec.Values(), out.Contests)
			}
		}
	})
}

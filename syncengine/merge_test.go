package syncengine_test

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

const testArea = "530102001001"

// version returns a field version for merge-rule tests.
func version(hlc syncengine.HLC, device, opID string) syncengine.FieldState {
	return syncengine.FieldState{Value: json.RawMessage(`"` + opID + `"`), HLC: hlc, Device: device, OpID: opID}
}

func TestWinsBothWays(t *testing.T) {
	tests := []struct {
		name   string
		winner syncengine.FieldState
		loser  syncengine.FieldState
	}{
		{"higher HLC", version(20, "dev-a", "op-a"), version(10, "dev-z", "op-z")},
		{"higher HLC by the logical counter", version(syncengine.MakeHLC(1000, 2), "dev-a", "op-a"), version(syncengine.MakeHLC(1000, 1), "dev-z", "op-z")},
		{"equal HLC, higher device", version(10, "dev-b", "op-a"), version(10, "dev-a", "op-z")},
		{"equal HLC and device, higher op id", version(10, "dev-a", "op-b"), version(10, "dev-a", "op-a")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !syncengine.Wins(tt.winner, tt.loser) {
				t.Errorf("Wins(%+v, %+v) = false, want true", tt.winner, tt.loser)
			}
			if syncengine.Wins(tt.loser, tt.winner) {
				t.Errorf("Wins(%+v, %+v) = true, want false", tt.loser, tt.winner)
			}
		})
	}
	same := version(10, "dev-a", "op-a")
	if syncengine.Wins(same, same) {
		t.Error("a version wins against itself")
	}
}

func TestConcurrent(t *testing.T) {
	a := syncengine.FieldState{OpID: "op-a", Base: "op-0"}
	seq := syncengine.FieldState{OpID: "op-b", Base: "op-a"}
	other := syncengine.FieldState{OpID: "op-c", Base: "op-0"}
	fresh := syncengine.FieldState{OpID: "op-d"}
	tests := []struct {
		name string
		x, y syncengine.FieldState
		want bool
	}{
		{"y based on x", a, seq, false},
		{"same base, neither saw the other", a, other, true},
		{"one saw nothing", a, fresh, true},
		{"the same write", a, a, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := syncengine.Concurrent(tt.x, tt.y); got != tt.want {
				t.Errorf("Concurrent(x, y) = %v, want %v", got, tt.want)
			}
			if got := syncengine.Concurrent(tt.y, tt.x); got != tt.want {
				t.Errorf("Concurrent(y, x) = %v, want %v", got, tt.want)
			}
		})
	}
}

// opSpec builds ops for merge tests: set is field→raw JSON, base field→op id.
type opSpec struct {
	id, record, collection, area, device string
	hlc                                  syncengine.HLC
	set                                  map[string]string
	base                                 map[string]string
	deleteReason                         string
}

func (s opSpec) op() *syncengine.Op {
	op := &syncengine.Op{
		ID: s.id, RecordID: s.record, Collection: s.collection, Area: s.area,
		Author: "author-" + s.device, Device: s.device, HLC: s.hlc, Base: s.base,
	}
	if op.RecordID == "" {
		op.RecordID = "rec-1"
	}
	if op.Collection == "" {
		op.Collection = "household"
	}
	if op.Area == "" {
		op.Area = testArea
	}
	if op.Device == "" {
		op.Device = "dev-a"
		op.Author = "author-dev-a"
	}
	if len(s.set) > 0 {
		op.Set = map[string]json.RawMessage{}
		for k, v := range s.set {
			op.Set[k] = json.RawMessage(v)
		}
	}
	if s.deleteReason != "" {
		op.Tombstone = &syncengine.Tombstone{Reason: s.deleteReason}
	}
	return op
}

// mustApply applies op to rec and fails the test on error.
func mustApply(t *testing.T, rec *syncengine.Record, op *syncengine.Op, pol syncengine.MergePolicy) (*syncengine.Record, syncengine.Outcome) {
	t.Helper()
	next, out, err := syncengine.ApplyOp(rec, op, pol)
	if err != nil {
		t.Fatalf("ApplyOp(%s): %v", op.ID, err)
	}
	return next, out
}

func fieldValue(t *testing.T, rec *syncengine.Record, field string) string {
	t.Helper()
	f, ok := rec.Fields[field]
	if !ok {
		t.Fatalf("record %s has no field %s", rec.Key(), field)
	}
	return string(f.Value)
}

func TestApplyOpNewRecord(t *testing.T) {
	op := opSpec{id: "op-1", hlc: 10, set: map[string]string{"name": `"李四"`, "members": `4`}}.op()
	rec, out := mustApply(t, nil, op, syncengine.MergePolicy{})
	if rec.ID != "rec-1" || rec.Collection != "household" || rec.Area != testArea {
		t.Errorf("record identity = %s %s %s", rec.Collection, rec.ID, rec.Area)
	}
	if want := []string{"members", "name"}; !reflect.DeepEqual(out.Changed, want) {
		t.Errorf("Changed = %v, want %v", out.Changed, want)
	}
	if len(out.Contests) != 0 {
		t.Errorf("Contests = %v, want none", out.Contests)
	}
	want := syncengine.FieldState{Value: json.RawMessage(`"李四"`), HLC: 10, Device: "dev-a", Author: "author-dev-a", OpID: "op-1"}
	if got := rec.Fields["name"]; !reflect.DeepEqual(got, want) {
		t.Errorf("name = %+v, want %+v", got, want)
	}
	if deleted, _ := rec.Deleted(); deleted {
		t.Error("new record reads as deleted")
	}
}

func TestApplyOpMerge(t *testing.T) {
	first := opSpec{id: "op-1", hlc: 10, device: "dev-a", set: map[string]string{"phone": `"111"`}}.op()
	base, _ := mustApply(t, nil, first, syncengine.MergePolicy{})
	before := base.Clone()

	tests := []struct {
		name        string
		op          *syncengine.Op
		wantValue   string
		wantChanged bool
		wantContest bool
	}{
		{"newer sequential write wins", opSpec{id: "op-2", hlc: 20, device: "dev-b", set: map[string]string{"phone": `"222"`}, base: map[string]string{"phone": "op-1"}}.op(), `"222"`, true, false},
		{"newer concurrent write wins and is contested", opSpec{id: "op-2", hlc: 20, device: "dev-b", set: map[string]string{"phone": `"222"`}}.op(), `"222"`, true, true},
		{"older concurrent write loses but is contested", opSpec{id: "op-2", hlc: 5, device: "dev-b", set: map[string]string{"phone": `"222"`}}.op(), `"111"`, false, true},
		{"older concurrent write of the same value is no contest", opSpec{id: "op-2", hlc: 5, device: "dev-b", set: map[string]string{"phone": `"111"`}}.op(), `"111"`, false, false},
		{"newer concurrent write of an equal JSON value is no contest", opSpec{id: "op-2", hlc: 20, device: "dev-b", set: map[string]string{"phone": ` "111" `}}.op(), ` "111" `, true, false},
		{"the same op again changes nothing", first, `"111"`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, out := mustApply(t, base, tt.op, syncengine.MergePolicy{})
			if got := fieldValue(t, rec, "phone"); got != tt.wantValue {
				t.Errorf("phone = %s, want %s", got, tt.wantValue)
			}
			if changed := len(out.Changed) > 0; changed != tt.wantChanged {
				t.Errorf("Changed = %v, want changed=%v", out.Changed, tt.wantChanged)
			}
			if contested := len(out.Contests) > 0; contested != tt.wantContest {
				t.Fatalf("Contests = %+v, want contested=%v", out.Contests, tt.wantContest)
			}
			if tt.wantContest {
				ct := out.Contests[0]
				if len(out.Contests) != 1 || ct.Field != "phone" || ct.Current.OpID != "op-1" || ct.Incoming.OpID != tt.op.ID {
					t.Errorf("Contests = %+v, want one on phone between op-1 and %s", out.Contests, tt.op.ID)
				}
			}
			if !reflect.DeepEqual(base, before) {
				t.Error("ApplyOp modified the record it was given")
			}
		})
	}
}

func TestApplyOpRefuses(t *testing.T) {
	visits := syncengine.MergePolicy{AppendOnly: true, Annotations: []string{"note"}}
	created, _ := mustApply(t, nil, opSpec{id: "op-1", collection: "visit", hlc: 10, set: map[string]string{"date": `"2024-05-01"`, "summary": `"ok"`}}.op(), visits)
	household, _ := mustApply(t, nil, opSpec{id: "op-h", hlc: 10, set: map[string]string{"name": `"王五"`}}.op(), syncengine.MergePolicy{})

	tests := []struct {
		name string
		rec  *syncengine.Record
		op   *syncengine.Op
		pol  syncengine.MergePolicy
	}{
		{"append-only field changed", created, opSpec{id: "op-2", collection: "visit", hlc: 20, set: map[string]string{"date": `"2024-06-01"`}}.op(), visits},
		{"append-only field changed alongside an annotation", created, opSpec{id: "op-2", collection: "visit", hlc: 20, set: map[string]string{"note": `"x"`, "summary": `"changed"`}}.op(), visits},
		{"append-only field changed by an older op", created, opSpec{id: "op-0", collection: "visit", hlc: 5, set: map[string]string{"date": `"2024-04-01"`}}.op(), visits},
		{"other collection", household, opSpec{id: "op-2", collection: "visit", hlc: 20, set: map[string]string{"name": `"x"`}}.op(), syncengine.MergePolicy{}},
		{"other record", household, opSpec{id: "op-2", record: "rec-2", hlc: 20, set: map[string]string{"name": `"x"`}}.op(), syncengine.MergePolicy{}},
		{"other area", household, opSpec{id: "op-2", area: "530102001002", hlc: 20, set: map[string]string{"name": `"x"`}}.op(), syncengine.MergePolicy{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.rec.Clone()
			next, out, err := syncengine.ApplyOp(tt.rec, tt.op, tt.pol)
			if code := syncengine.ErrorCode(err); code != syncengine.EINVALID {
				t.Fatalf("ApplyOp error = %v (code %q), want %s", err, code, syncengine.EINVALID)
			}
			if next != nil || len(out.Changed) != 0 || len(out.Contests) != 0 {
				t.Errorf("refused op returned record %v and outcome %+v", next, out)
			}
			if !reflect.DeepEqual(tt.rec, before) {
				t.Error("refused op modified the record")
			}
		})
	}
}

func TestApplyOpAppendOnlyAllows(t *testing.T) {
	visits := syncengine.MergePolicy{AppendOnly: true, Annotations: []string{"note"}}
	created, _ := mustApply(t, nil, opSpec{id: "op-1", collection: "visit", hlc: 10, set: map[string]string{"date": `"2024-05-01"`}}.op(), visits)

	tests := []struct {
		name  string
		op    *syncengine.Op
		field string
		want  string
	}{
		{"annotation", opSpec{id: "op-2", collection: "visit", hlc: 20, set: map[string]string{"note": `"复核"`}}.op(), "note", `"复核"`},
		{"annotation changed again", opSpec{id: "op-3", collection: "visit", hlc: 30, set: map[string]string{"note": `"再复核"`}}.op(), "note", `"再复核"`},
		{"the creating op again", opSpec{id: "op-1", collection: "visit", hlc: 10, set: map[string]string{"date": `"2024-05-01"`}}.op(), "date", `"2024-05-01"`},
		{"a set field written with an equal value", opSpec{id: "op-4", collection: "visit", hlc: 40, set: map[string]string{"date": `"2024-05-01"`}}.op(), "date", `"2024-05-01"`},
		{"a new field", opSpec{id: "op-5", collection: "visit", hlc: 50, set: map[string]string{"gps": `[25.0,102.7]`}}.op(), "gps", `[25.0,102.7]`},
		{"a tombstone", opSpec{id: "op-6", collection: "visit", hlc: 60, deleteReason: "duplicate visit"}.op(), syncengine.DeletedField, `{"reason":"duplicate visit"}`},
	}
	rec := created
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, _, err := syncengine.ApplyOp(rec, tt.op, visits)
			if err != nil {
				t.Fatalf("ApplyOp: %v", err)
			}
			if got := fieldValue(t, next, tt.field); got != tt.want {
				t.Errorf("%s = %s, want %s", tt.field, got, tt.want)
			}
			rec = next
		})
	}
	if deleted, reason := rec.Deleted(); !deleted || reason != "duplicate visit" {
		t.Errorf("Deleted() = %v %q, want true \"duplicate visit\"", deleted, reason)
	}
	if _, ok := rec.Values()[syncengine.DeletedField]; ok {
		t.Error("Values() shows the tombstone")
	}
}

func TestRecordHelpers(t *testing.T) {
	rec, _ := mustApply(t, nil, opSpec{id: "op-1", hlc: 10, set: map[string]string{"a": `1`}}.op(), syncengine.MergePolicy{})
	flagged := opSpec{id: "op-2", hlc: 30, set: map[string]string{"b": `2`}}.op()
	flagged.AddFlag(syncengine.FlagRestamped)
	flagged.AddFlag(syncengine.FlagRestamped)
	if len(flagged.Flags) != 1 {
		t.Errorf("AddFlag twice gave %v", flagged.Flags)
	}
	rec, _ = mustApply(t, rec, flagged, syncengine.MergePolicy{})
	if rec.Version() != 30 {
		t.Errorf("Version() = %d, want 30", rec.Version())
	}
	if got := rec.Flags(); !reflect.DeepEqual(got, []string{syncengine.FlagRestamped}) {
		t.Errorf("Flags() = %v", got)
	}
	if rec.Key() != "household/rec-1" || flagged.Key() != rec.Key() {
		t.Errorf("keys %q %q", rec.Key(), flagged.Key())
	}
}

func TestJSONEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`{"a":1,"b":[1,2]}`, `{ "b": [1, 2], "a": 1 }`, true},
		{`"x"`, `"x"`, true},
		{`1`, `2`, false},
		{`{"a":1}`, `{"a":1,"b":null}`, false},
		{`not json`, `"not json"`, false},
	}
	for _, tt := range tests {
		if got := syncengine.JSONEqual(json.RawMessage(tt.a), json.RawMessage(tt.b)); got != tt.want {
			t.Errorf("JSONEqual(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// seedFromEnv returns the seed named by the environment variable, or a fresh
// one; the test logs it so a failure can be replayed.
func seedFromEnv(t *testing.T, name string) uint64 {
	t.Helper()
	if s := os.Getenv(name); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", name, s, err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

func TestMergeRecordsProperties(t *testing.T) {
	seed := seedFromEnv(t, "RUHU_MERGE_SEED")
	t.Logf("seed %d (replay with RUHU_MERGE_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	// A pool of writes per field. Small HLC and device ranges make ties
	// common, so every tie-break is exercised.
	fields := []string{"a", "b", "c", syncengine.DeletedField}
	pool := map[string][]syncengine.FieldState{}
	for _, f := range fields {
		for i := 0; i < 6; i++ {
			id := f + "-op-" + strconv.Itoa(i)
			pool[f] = append(pool[f], syncengine.FieldState{
				Value:  json.RawMessage(strconv.Quote(id)),
				HLC:    syncengine.HLC(rng.IntN(3) + 1),
				Device: "dev-" + strconv.Itoa(rng.IntN(2)),
				OpID:   id,
			})
		}
	}
	randomRecord := func() *syncengine.Record {
		r := &syncengine.Record{ID: "rec-1", Collection: "household", Area: testArea, Fields: map[string]syncengine.FieldState{}}
		for _, f := range fields {
			if rng.IntN(3) > 0 {
				r.Fields[f] = pool[f][rng.IntN(len(pool[f]))]
			}
		}
		return r
	}
	for i := 0; i < 500; i++ {
		a, b, c := randomRecord(), randomRecord(), randomRecord()
		ab := syncengine.MergeRecords(a, b)
		if ba := syncengine.MergeRecords(b, a); !reflect.DeepEqual(ab, ba) {
			t.Fatalf("not commutative:\na=%+v\nb=%+v\nab=%+v\nba=%+v", a, b, ab, ba)
		}
		left := syncengine.MergeRecords(ab, c)
		right := syncengine.MergeRecords(a, syncengine.MergeRecords(b, c))
		if !reflect.DeepEqual(left, right) {
			t.Fatalf("not associative:\na=%+v\nb=%+v\nc=%+v", a, b, c)
		}
		if aa := syncengine.MergeRecords(a, a); !reflect.DeepEqual(aa, a) {
			t.Fatalf("not idempotent: %+v merged with itself gave %+v", a, aa)
		}
		if abb := syncengine.MergeRecords(ab, b); !reflect.DeepEqual(abb, ab) {
			t.Fatalf("merging b again changed the result")
		}
		// The result holds, per field, the winner of the two inputs.
		for _, f := range fields {
			fa, inA := a.Fields[f]
			fb, inB := b.Fields[f]
			got, inAB := ab.Fields[f]
			switch {
			case !inA && !inB:
				if inAB {
					t.Fatalf("field %s appeared from nowhere", f)
				}
			case inA && (!inB || !syncengine.Wins(fb, fa)):
				if got.OpID != fa.OpID {
					t.Fatalf("field %s = %s, want %s", f, got.OpID, fa.OpID)
				}
			default:
				if got.OpID != fb.OpID {
					t.Fatalf("field %s = %s, want %s", f, got.OpID, fb.OpID)
				}
			}
		}
	}
}

func TestMergeRecordsNil(t *testing.T) {
	a, _ := mustApply(t, nil, opSpec{id: "op-1", hlc: 10, set: map[string]string{"a": `1`}}.op(), syncengine.MergePolicy{})
	if got := syncengine.MergeRecords(nil, a); !reflect.DeepEqual(got, a) || got == a {
		t.Errorf("MergeRecords(nil, a) = %+v, want a copy of a", got)
	}
	if got := syncengine.MergeRecords(a, nil); !reflect.DeepEqual(got, a) || got == a {
		t.Errorf("MergeRecords(a, nil) = %+v, want a copy of a", got)
	}
	if got := syncengine.MergeRecords(nil, nil); got != nil {
		t.Errorf("MergeRecords(nil, nil) = %+v, want nil", got)
	}
}

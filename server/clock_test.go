package server_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

func flagged(resp syncengine.PushResponse, id string) (syncengine.FlaggedOp, bool) {
	for _, f := range resp.Flagged {
		if f.OpID == id {
			return f, true
		}
	}
	return syncengine.FlaggedOp{}, false
}

// TestClockSkew: an op stamped far ahead of the server clock is accepted
// but restamped, so it cannot beat a later write, and the flag is visible
// in the push answer, the record's versions and its history. Tablets whose
// own clock disagrees with their server-time estimate are flagged.
func TestClockSkew(t *testing.T) {
	ts := startServer(t, serverOptions{users: testUsers()[3:5], seed: standardSeed()})
	wang, li := ts.as("wang"), ts.as("li")
	now := ts.clock.Now()
	seedPhone := ts.storeRecord("households", "hV1b").Fields["phone"].OpID

	ahead := ts.op(wang, "skew-ahead", "households", "hV1b", areaV1, map[string]any{"phone": "13900000001", "address": "来自未来"})
	stated := syncengine.MakeHLC(now.Add(time.Hour).UnixMilli(), 0)
	ahead.HLC = uint64(stated)
	ahead.Base = map[string]string{"phone": seedPhone}
	first := ts.push(wang, ahead)
	f, ok := flagged(first, ahead.ID)
	if !acked(first, ahead.ID) || !ok || !slices.Contains(f.Flags, syncengine.FlagRestamped) {
		t.Fatalf("op an hour ahead: want acked and flagged restamped, got %+v", first)
	}
	restamp := syncengine.HLC(f.HLC)
	if restamp.WallMs() != now.UnixMilli() {
		t.Errorf("restamped to %v, want the server's time %v", restamp, now)
	}

	// A later write made one second on, by someone who saw the restamped
	// value, wins: the hour-ahead stamp no longer counts.
	ts.clock.Set(now.Add(time.Second))
	later := ts.op(li, "skew-later", "households", "hV1b", areaV1, map[string]any{"phone": "13900000002"})
	later.Base = map[string]string{"phone": ahead.ID}
	second := ts.push(li, later)
	if !acked(second, later.ID) || len(second.Flagged) != 0 {
		t.Fatalf("normal write: %+v", second)
	}
	rec := ts.record(wang.access, "households", "hV1b")
	if got := jsonString(rec.Record.Fields["phone"]); got != "13900000002" {
		t.Errorf("phone = %q: the restamped op beat a later write", got)
	}
	if v := rec.Record.Versions["address"]; v.OpID != ahead.ID || !slices.Contains(v.Flags, syncengine.FlagRestamped) {
		t.Errorf("versions[address] = %+v, want op %s flagged restamped", v, ahead.ID)
	}
	if !slices.Contains(rec.Record.Flags, syncengine.FlagRestamped) {
		t.Errorf("record flags %v lack restamped", rec.Record.Flags)
	}
	var found bool
	for _, h := range rec.History {
		if h.ID == ahead.ID {
			found = true
			if !slices.Contains(h.Flags, syncengine.FlagRestamped) || h.StatedHLC != uint64(stated) || h.HLC != uint64(restamp) {
				t.Errorf("history of the restamped op: %+v (stated %s, restamp %s)", h, stated, restamp)
			}
		}
	}
	if !found {
		t.Errorf("restamped op missing from history")
	}

	// Re-sending it (the tablet lost the answer) reports the same stamp
	// again and changes nothing.
	seq := ts.lastSeq()
	again := ts.push(wang, ahead)
	if f2, ok := flagged(again, ahead.ID); !acked(again, ahead.ID) || !ok || f2.HLC != f.HLC {
		t.Errorf("resend of the restamped op: %+v, first answer %+v", again, first)
	}
	if ts.lastSeq() != seq {
		t.Errorf("resend changed the store")
	}

	tests := []struct {
		name      string
		ahead     time.Duration // op stamp relative to the server clock
		dt, st    time.Duration // tablet clock and its server-time estimate, relative to the server clock
		wantFlags []string
	}{
		{"in step", 0, time.Second, time.Second, nil},
		{"stamp ahead within the allowance keeps it", 4 * time.Minute, 0, 0, nil},
		{"stamp beyond the allowance is restamped", 6 * time.Minute, 0, 0, []string{syncengine.FlagRestamped}},
		{"tablet clock a minute off its estimate", 0, -time.Minute, 0, nil},
		{"tablet clock ten minutes behind its estimate", 0, -10 * time.Minute, 0, []string{syncengine.FlagDeviceClockOff}},
		{"tablet set to 1970", 0, -time.Duration(now.UnixNano()) + time.Hour, 0, []string{syncengine.FlagDeviceClockOff}},
		{"tablet clock ten minutes ahead of its estimate", 0, 10 * time.Minute, 0, []string{syncengine.FlagDeviceClockOff}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur := ts.clock.Now()
			// Each case creates its own household, so no earlier stamp
			// competes with it.
			set := createFields("households", areaV1, "wang")
			set["notes"] = tc.name
			id := "dt-" + string(rune('a'+i))
			op := ts.op(wang, id, "households", id, areaV1, set)
			stamp := syncengine.MakeHLC(cur.Add(tc.ahead).UnixMilli(), 0)
			op.HLC = uint64(stamp)
			op.DeviceTime = cur.Add(tc.dt).UnixMilli()
			op.ServerTimeEst = cur.Add(tc.st).UnixMilli()
			r := ts.push(wang, op)
			if !acked(r, op.ID) {
				t.Fatalf("not acked: %+v", r)
			}
			f, _ := flagged(r, op.ID)
			if !slices.Equal(f.Flags, tc.wantFlags) {
				t.Errorf("flags %v, want %v", f.Flags, tc.wantFlags)
			}
			got := ts.storeRecord("households", id).Fields["notes"]
			if slices.Contains(tc.wantFlags, syncengine.FlagRestamped) == (got.HLC == stamp) {
				t.Errorf("stored stamp %v, stated %v", got.HLC, stamp)
			}
			if !slices.Equal(got.Flags, tc.wantFlags) {
				t.Errorf("stored version flags %v, want %v", got.Flags, tc.wantFlags)
			}
		})
	}
}

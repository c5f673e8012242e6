package syncengine_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestOpDigestGolden pins the digest of fixed ops: stores keep digests of
// accepted ops, so a faster OpDigest must give exactly the bytes the first
// one gave, whitespace in values or not.
func TestOpDigestGolden(t *testing.T) {
	at := time.UnixMilli(1764000000000)
	for _, tc := range []struct {
		name string
		op   *syncengine.Op
		want string
	}{
		{"visit", &syncengine.Op{ID: "op-1", RecordID: "v-1", Collection: "visits", Area: "340199001001", Author: "wang", Device: "d1",
			HLC: syncengine.MakeHLC(1764000000000, 3), DeviceTime: at, ServerTimeEst: at.Add(time.Second),
			Set: map[string]json.RawMessage{"household_id": json.RawMessage(`"h-1"`), "gps": json.RawMessage(`{"lat":31.7,"lon":117.1}`),
				"notes": json.RawMessage(`"户主在家 精神状态良好"`), "photo_sha256s": json.RawMessage(`["ab", "cd"]`)},
			Base: map[string]string{"gps": "op-0"}}, "9c82e4bf2741753ef1acafc13af1d4fd7064ccbefd40bf2782932f7ac600faff"},
		{"tombstone restamped", &syncengine.Op{ID: "op-2", RecordID: "h-1", Collection: "households", Area: "340199001001", Author: "li", Device: "d2",
			HLC: syncengine.MakeHLC(1764000009999, 0), StatedHLC: syncengine.MakeHLC(1864000000000, 0), Flags: []string{syncengine.FlagClockSuspect, syncengine.FlagRestamped},
			Tombstone: &syncengine.Tombstone{Reason: "重复登记"}, Set: map[string]json.RawMessage{"x": json.RawMessage("{ \"a\" :\n[1, 2] }"), "y": json.RawMessage(`not json`)}}, "4846f96a1366350b0b9ac45e6a2501f7bcad4d9542fb3021954b02ecbc542665"},
	} {
		if got := syncengine.OpDigest(tc.op); got != tc.want {
			t.Errorf("%s: digest %s, want %s", tc.name, got, tc.want)
		}
	}
}

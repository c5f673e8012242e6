package boltstore

import (
	"encoding/json"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// FuzzStoredArea: whenever storedArea reads an area from a stored record,
// it is the area encoding/json decodes; records both encoders write are
// always read.
func FuzzStoredArea(f *testing.F) {
	f.Add("h1", "households", "340199001001")
	f.Add(`a"b\c`, "visits", "340188001001")
	f.Add("\u2028é", "col\"", "")
	f.Fuzz(func(t *testing.T, id, col, area string) {
		rec := &syncengine.Record{ID: id, Collection: col, Area: area, Fields: map[string]syncengine.FieldState{
			"f": {Value: json.RawMessage(`{"area":"x"}`), OpID: `"area":"y"`}}}
		mine := encodeRecord(rec, 7)
		std, err := json.Marshal(storedRecord{WireRecord: syncengine.WireRecord{ID: id, Collection: col, Area: area}, Seq: 7})
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range [][]byte{mine, std} {
			var sr storedRecord
			if err := json.Unmarshal(raw, &sr); err != nil {
				continue // invalid UTF-8 and the like: not what the store holds
			}
			got, ok := storedArea(raw)
			if !ok {
				if sr.ID == id && sr.Collection == col && sr.Area == area && isPlain(area) {
					t.Errorf("%s: area not read", raw)
				}
				continue
			}
			if got != sr.Area {
				t.Errorf("%s: read area %q, decoded %q", raw, got, sr.Area)
			}
		}
	})
}

// isPlain reports whether s encodes as itself in JSON (no escapes), the
// only areas storedArea promises to read.
func isPlain(s string) bool {
	b, _ := json.Marshal(s)
	return string(b) == `"`+s+`"`
}

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

// FuzzScanStored: what scanStored reads from a record written by either
// encoder is what encoding/json decodes from it, or it declines (and the
// caller decodes); plain records are always read.
func FuzzScanStored(f *testing.F) {
	f.Add("h1", "wang", "op-1", `"张三"`, uint64(123), false)
	f.Add(`h"1`, `a\b`, "op 2", `{"a":[1,"]}",{"b":null}],"c":"\""}`, uint64(1)<<60, true)
	f.Add("x", "y", "z", `-1.5e3`, uint64(0), false)
	f.Fuzz(func(t *testing.T, id, author, opID, value string, hlc uint64, deleted bool) {
		if !json.Valid([]byte(value)) {
			return // the store holds validated values only
		}
		v := versionOf(value, hlc, author, opID)
		rec := &syncengine.Record{ID: id, Collection: "visits", Area: "340199001001", Fields: map[string]syncengine.FieldState{
			"a": v, "b": versionOf(`"plain"`, 1, "wang", "o1"), "zz": v}}
		if deleted {
			rec.Fields[syncengine.DeletedField] = versionOf(`{"reason":"dup"}`, 2, "wang", "o2")
		}
		std, err := json.Marshal(storedRecord{WireRecord: rec.ToWire(), Seq: 9})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"zz", "missing", "a", "b"}
		for _, raw := range [][]byte{encodeRecord(rec, 9), std} {
			var sr storedRecord
			if err := json.Unmarshal(raw, &sr); err != nil {
				continue
			}
			dec := sr.FromWire()
			fields := make([]FieldView, len(want))
			gotID, gotArea, gotDeleted, ok := scanStored(raw, want, fields)
			if !ok {
				if isPlain(id) && isPlain(author) && isPlain(opID) {
					t.Fatalf("%s: plain record not read", raw)
				}
				continue
			}
			decDeleted, _ := dec.Deleted()
			if gotID != dec.ID || gotArea != dec.Area || gotDeleted != decDeleted {
				t.Errorf("%s: read id %q area %q deleted %v, decoded %q %q %v", raw, gotID, gotArea, gotDeleted, dec.ID, dec.Area, decDeleted)
			}
			for i, name := range want {
				d, has := dec.Fields[name]
				g := fields[i]
				if !has {
					if g.Value != nil {
						t.Errorf("field %s read though absent", name)
					}
					continue
				}
				if !syncengine.JSONEqual(g.Value, d.Value) || g.HLC != d.HLC || string(g.Author) != d.Author || string(g.OpID) != d.OpID {
					t.Errorf("%s: field %s read %s %d %q %q, decoded %s %d %q %q", raw, name, g.Value, g.HLC, g.Author, g.OpID, d.Value, d.HLC, d.Author, d.OpID)
				}
			}
		}
	})
}

// versionOf makes a field version for the fuzz targets.
func versionOf(value string, hlc uint64, author, opID string) syncengine.FieldState {
	return syncengine.FieldState{Value: json.RawMessage(value), HLC: syncengine.HLC(hlc), Device: "d", Author: author, OpID: opID,
		Flags: []string{"x"}}
}

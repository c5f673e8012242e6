package boltstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// ForEachRecordIn calls fn for every record of a collection whose area code
// starts with areaPrefix ("" means every area), in id order, until fn
// returns an error, which it returns.
//
// Records are keyed by collection and id, not by area, so this still walks
// the whole collection; but a record outside the prefix costs a look at
// the head of its stored JSON (where the encoder writes the area) and is
// never decoded. A county report over a province's store decodes only the
// county's records.
func (t *Tx) ForEachRecordIn(collection, areaPrefix string, fn func(*syncengine.Record) error) error {
	prefix := []byte(collection + "/")
	c := t.tx.Bucket(bucketRecords).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if area, ok := storedArea(v); ok && !strings.HasPrefix(area, areaPrefix) {
			continue
		}
		var sr storedRecord
		if err := json.Unmarshal(v, &sr); err != nil {
			return fmt.Errorf("decode record %s: %w", k, err)
		}
		if !strings.HasPrefix(sr.Area, areaPrefix) {
			continue // a record whose head storedArea could not read
		}
		if err := fn(sr.FromWire()); err != nil {
			return err
		}
	}
	return nil
}

// storedArea reads the area code from the head of a stored record,
// `{"id":"…","col":"…","area":"…"`, the order both encodeRecord and
// encoding/json write. ok is false when the head has another shape; the
// caller then decodes the record.
func storedArea(raw []byte) (area string, ok bool) {
	rest, ok := bytes.CutPrefix(raw, []byte(`{"id":`))
	if !ok {
		return "", false
	}
	if rest, ok = skipJSONString(rest); !ok {
		return "", false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"col":`)); !ok {
		return "", false
	}
	if rest, ok = skipJSONString(rest); !ok {
		return "", false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"area":"`)); !ok {
		return "", false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return "", false
	}
	return string(rest[:end]), true
}

// skipJSONString returns what follows the JSON string at the start of b.
func skipJSONString(b []byte) ([]byte, bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, false
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++ // the escaped byte
		case '"':
			return b[i+1:], true
		}
	}
	return nil, false
}

// OpReceivedAt returns when the server accepted an op (its receipt time,
// millisecond precision); ok is false when no op has that id. Reports use
// it for the receipt time of check-ins: the op that created a record is
// named by the OpID of any field it set.
//
// The time is read from the tail of the stored op without decoding the
// rest: "received_at" is written after every field value, and a key of that
// name inside a value comes before it, so the last occurrence is the op's.
func (t *Tx) OpReceivedAt(opID string) (at time.Time, ok bool, err error) {
	raw := t.tx.Bucket(bucketOps).Get([]byte(opID))
	if raw == nil {
		return time.Time{}, false, nil
	}
	key := []byte(`"received_at":`)
	if i := bytes.LastIndex(raw, key); i >= 0 {
		num := raw[i+len(key):]
		end := 0
		for end < len(num) && (num[end] == '-' || num[end] >= '0' && num[end] <= '9') {
			end++
		}
		if ms, err := strconv.ParseInt(string(num[:end]), 10, 64); err == nil {
			return time.UnixMilli(ms).UTC(), true, nil
		}
	}
	var so StoredOp
	if err := json.Unmarshal(raw, &so); err != nil {
		return time.Time{}, false, fmt.Errorf("decode op %s: %w", opID, err)
	}
	return time.UnixMilli(so.ReceivedAt).UTC(), true, nil
}

// FieldView is core.FieldView: one field of a stored record as
// ScanRecordsIn shows it, its byte slices borrowed from the transaction.
type FieldView = core.FieldView

// ScanRecordsIn calls fn for every record of a collection whose area code
// starts with areaPrefix and that is not deleted, in id order, with the
// fields named in want: fields[i] is want[i]. fields is reused between
// calls. fn's error stops the scan and is returned.
//
// It reads only what it is asked for from the stored JSON, several times
// faster than decoding whole records with ForEachRecordIn: reports read
// every visit of a county. A record whose JSON it does not expect (escapes
// in an id, author or op id) is decoded the slow way instead.
func (t *Tx) ScanRecordsIn(collection, areaPrefix string, want []string, fn func(id, area string, fields []FieldView) error) error {
	prefix := []byte(collection + "/")
	fields := make([]FieldView, len(want))
	c := t.tx.Bucket(bucketRecords).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if area, ok := storedArea(v); ok && !strings.HasPrefix(area, areaPrefix) {
			continue
		}
		clear(fields)
		id, area, deleted, ok := scanStored(v, want, fields)
		if !ok {
			rec, err := decodeStored(k, v)
			if err != nil {
				return err
			}
			clear(fields)
			for i, name := range want {
				if f, ok := rec.Fields[name]; ok {
					fields[i] = FieldView{Value: f.Value, HLC: f.HLC, Author: []byte(f.Author), OpID: []byte(f.OpID)}
				}
			}
			id, area = rec.ID, rec.Area
			deleted, _ = rec.Deleted()
		}
		if deleted || !strings.HasPrefix(area, areaPrefix) {
			continue
		}
		if err := fn(id, area, fields); err != nil {
			return err
		}
	}
	return nil
}

// decodeStored decodes a stored record the slow way, for the records whose
// JSON scanStored does not expect.
func decodeStored(key, raw []byte) (*syncengine.Record, error) {
	var sr storedRecord
	if err := json.Unmarshal(raw, &sr); err != nil {
		return nil, fmt.Errorf("decode record %s: %w", key, err)
	}
	return sr.FromWire(), nil
}

// scanStored reads a stored record's id, area, tombstone and the wanted
// fields without decoding the rest; ok is false when the JSON is not of
// the plain shape the encoders write (the caller then decodes it).
func scanStored(raw []byte, want []string, fields []FieldView) (id, area string, deleted, ok bool) {
	s := jsonScanner{b: raw}
	if !s.byte('{') {
		return "", "", false, false
	}
	for first := true; ; first = false {
		if s.byte('}') {
			return id, area, deleted, true
		}
		if !first && !s.byte(',') {
			return "", "", false, false
		}
		key, kok := s.plainString()
		if !kok || !s.byte(':') {
			return "", "", false, false
		}
		switch string(key) {
		case "id", "area":
			v, vok := s.plainString()
			if !vok {
				return "", "", false, false
			}
			if key[0] == 'i' {
				id = string(v)
			} else {
				area = string(v)
			}
		case "f":
			var fok bool
			if deleted, fok = s.fields(want, fields); !fok {
				return "", "", false, false
			}
		default:
			if _, vok := s.value(); !vok {
				return "", "", false, false
			}
		}
	}
}

// jsonScanner walks JSON as the store writes it (no whitespace between
// tokens, though whitespace is skipped where encoding/json might add it).
type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\n' || s.b[s.i] == '\t' || s.b[s.i] == '\r') {
		s.i++
	}
}

// byte consumes c if it comes next.
func (s *jsonScanner) byte(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// plainString reads a string without escapes and returns its content.
func (s *jsonScanner) plainString() ([]byte, bool) {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	end := bytes.IndexByte(s.b[start:], '"')
	if end < 0 || bytes.IndexByte(s.b[start:start+end], '\\') >= 0 {
		return nil, false
	}
	s.i = start + end + 1
	return s.b[start : start+end], true
}

// value skips one JSON value and returns its bytes. It follows nesting
// and strings, not the grammar of numbers and literals: stored values were
// validated when their op was accepted.
func (s *jsonScanner) value() ([]byte, bool) {
	s.space()
	start := s.i
	if s.i >= len(s.b) {
		return nil, false
	}
	switch s.b[s.i] {
	case '"':
		if !s.skipString() {
			return nil, false
		}
		return s.b[start:s.i], true
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if !s.skipString() {
					return nil, false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return s.b[start:s.i], true
				}
			}
			s.i++
		}
		return nil, false
	}
	for s.i < len(s.b) && !isDelimiter(s.b[s.i]) {
		s.i++
	}
	return s.b[start:s.i], s.i > start
}

func isDelimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\n', '\t', '\r':
		return true
	}
	return false
}

// skipString moves past the string that starts at s.i.
func (s *jsonScanner) skipString() bool {
	for s.i++; s.i < len(s.b); s.i++ {
		switch s.b[s.i] {
		case '\\':
			s.i++
		case '"':
			s.i++
			return true
		}
	}
	return false
}

// fields reads the "f" object: each field's version object, keeping the
// wanted ones and noting a tombstone.
func (s *jsonScanner) fields(want []string, out []FieldView) (deleted, ok bool) {
	if !s.byte('{') {
		return false, false
	}
	for first := true; ; first = false {
		if s.byte('}') {
			return deleted, true
		}
		if !first && !s.byte(',') {
			return false, false
		}
		name, nok := s.plainString()
		if !nok || !s.byte(':') {
			return false, false
		}
		slot := -1
		for i, w := range want {
			if string(name) == w {
				slot = i
				break
			}
		}
		isDeleted := string(name) == syncengine.DeletedField
		if slot < 0 && !isDeleted {
			if _, vok := s.value(); !vok {
				return false, false
			}
			continue
		}
		f, fok := s.version()
		if !fok {
			return false, false
		}
		if isDeleted {
			deleted = len(f.Value) > 0 && string(f.Value) != "null"
		}
		if slot >= 0 {
			out[slot] = f
		}
	}
}

// version reads one field version, {"v":…,"h":…,"d":…,"a":…,"o":…,…}.
func (s *jsonScanner) version() (FieldView, bool) {
	var f FieldView
	if !s.byte('{') {
		return f, false
	}
	for first := true; ; first = false {
		if s.byte('}') {
			return f, f.Value != nil
		}
		if !first && !s.byte(',') {
			return f, false
		}
		key, kok := s.plainString()
		if !kok || !s.byte(':') {
			return f, false
		}
		var ok bool
		switch string(key) {
		case "v":
			f.Value, ok = s.value()
		case "a":
			f.Author, ok = s.plainString()
		case "o":
			f.OpID, ok = s.plainString()
		case "h":
			var num []byte
			if num, ok = s.value(); ok {
				h, err := strconv.ParseUint(string(num), 10, 64)
				f.HLC, ok = syncengine.HLC(h), err == nil
			}
		default:
			_, ok = s.value()
		}
		if !ok {
			return f, false
		}
	}
}

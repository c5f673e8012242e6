package boltstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

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

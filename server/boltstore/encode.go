package boltstore

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// The store writes every accepted op twice (history and record state), so
// encoding is on the hot path of every push. encoding/json re-validates
// and compacts each json.RawMessage value it writes; these encoders copy
// values verbatim instead (they were validated when the push was decoded)
// and produce the same JSON the struct tags describe, so reading stays
// plain json.Unmarshal.

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigit(c>>4), hexDigit(c&0xF))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}

func hexDigit(c byte) byte { return "0123456789abcdef"[c] }

func appendKey(b []byte, k string) []byte {
	b = appendString(b, k)
	return append(b, ':')
}

func appendRaw(b []byte, v json.RawMessage) []byte {
	if len(v) == 0 {
		return append(b, "null"...)
	}
	return append(b, v...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// appendWireField writes the syncengine.WireField form.
func appendWireField(b []byte, f syncengine.FieldState) []byte {
	b = append(b, `{"v":`...)
	b = appendRaw(b, f.Value)
	b = append(b, `,"h":`...)
	b = strconv.AppendUint(b, uint64(f.HLC), 10)
	b = append(b, `,"d":`...)
	b = appendString(b, f.Device)
	b = append(b, `,"a":`...)
	b = appendString(b, f.Author)
	b = append(b, `,"o":`...)
	b = appendString(b, f.OpID)
	if f.Base != "" {
		b = append(b, `,"b":`...)
		b = appendString(b, f.Base)
	}
	if len(f.Flags) > 0 {
		b = append(b, `,"fl":`...)
		b = appendStrings(b, f.Flags)
	}
	return append(b, '}')
}

// encodeRecord writes the storedRecord form of rec at seq.
func encodeRecord(rec *syncengine.Record, seq uint64) []byte {
	return appendRecordSeq(appendRecordHead(nil, rec), seq)
}

// appendRecordHead appends the storedRecord form of rec up to its
// sequence, which appendRecordSeq ends it with: the head does not depend
// on the transaction, so it can be written ahead (preparedWrite).
func appendRecordHead(b []byte, rec *syncengine.Record) []byte {
	b = slices.Grow(b, recordSize(rec))
	b = append(b, `{"id":`...)
	b = appendString(b, rec.ID)
	b = append(b, `,"col":`...)
	b = appendString(b, rec.Collection)
	b = append(b, `,"area":`...)
	b = appendString(b, rec.Area)
	b = append(b, `,"f":{`...)
	for i, name := range sortedNames(rec.Fields) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, name)
		b = appendWireField(b, rec.Fields[name])
	}
	return append(b, '}')
}

// recordSize is about what encodeRecord writes for rec, rarely less.
func recordSize(rec *syncengine.Record) int {
	size := 128 + len(rec.ID) + len(rec.Collection) + len(rec.Area)
	for name, f := range rec.Fields {
		size += len(name) + len(f.Value) + len(f.Device) + len(f.Author) + len(f.OpID) + len(f.Base) + 64 + 16*len(f.Flags)
	}
	return size
}

// appendRecordSeq ends a record's head with its sequence.
func appendRecordSeq(b []byte, seq uint64) []byte {
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	return append(b, '}')
}

// encodeOp writes the StoredOp form of op at seq, with its content digest:
// op.Digest when it is set (the push path works it out while admitting
// the op, outside the write transaction), else syncengine.OpDigest.
func encodeOp(op *syncengine.Op, seq uint64) []byte {
	head := appendOpHead(nil, op)
	return appendOpTail(appendOpSeq(head, seq), op)
}

// appendOpHead appends the StoredOp form of op up to its sequence; then
// come appendOpSeq and appendOpTail. Only the sequence depends on the
// transaction, so the rest can be written ahead (preparedWrite).
func appendOpHead(b []byte, op *syncengine.Op) []byte {
	b = slices.Grow(b, opSize(op))
	b = append(b, `{"id":`...)
	b = appendString(b, op.ID)
	b = append(b, `,"rid":`...)
	b = appendString(b, op.RecordID)
	b = append(b, `,"col":`...)
	b = appendString(b, op.Collection)
	b = append(b, `,"area":`...)
	b = appendString(b, op.Area)
	b = append(b, `,"by":`...)
	b = appendString(b, op.Author)
	b = append(b, `,"dev":`...)
	b = appendString(b, op.Device)
	b = append(b, `,"hlc":`...)
	b = strconv.AppendUint(b, uint64(op.HLC), 10)
	if len(op.Set) > 0 {
		b = append(b, `,"set":{`...)
		for i, name := range sortedNames(op.Set) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendKey(b, name)
			b = appendRaw(b, op.Set[name])
		}
		b = append(b, '}')
	}
	if op.Tombstone != nil {
		b = append(b, `,"del":{"reason":`...)
		b = appendString(b, op.Tombstone.Reason)
		b = append(b, '}')
	}
	if len(op.Base) > 0 {
		b = append(b, `,"base":{`...)
		for i, name := range sortedNames(op.Base) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendKey(b, name)
			b = appendString(b, op.Base[name])
		}
		b = append(b, '}')
	}
	if !op.DeviceTime.IsZero() {
		b = append(b, `,"dt":`...)
		b = strconv.AppendInt(b, op.DeviceTime.UnixMilli(), 10)
	}
	if !op.ServerTimeEst.IsZero() {
		b = append(b, `,"st":`...)
		b = strconv.AppendInt(b, op.ServerTimeEst.UnixMilli(), 10)
	}
	if op.HasFlag(syncengine.FlagClockSuspect) {
		b = append(b, `,"cs":true`...)
	}
	if len(op.Flags) > 0 {
		b = append(b, `,"flags":`...)
		b = appendStrings(b, op.Flags)
	}
	if op.StatedHLC != 0 {
		b = append(b, `,"stated_hlc":`...)
		b = strconv.AppendUint(b, uint64(op.StatedHLC), 10)
	}
	b = append(b, `,"received_at":`...)
	return strconv.AppendInt(b, op.ReceivedAt.UnixMilli(), 10)
}

// opSize is about what encodeOp writes for op, rarely less.
func opSize(op *syncengine.Op) int {
	size := 400 + len(op.ID) + len(op.RecordID) + len(op.Collection) + len(op.Area) + len(op.Author) + len(op.Device)
	for name, v := range op.Set {
		size += len(name) + len(v) + 4
	}
	for name, v := range op.Base {
		size += len(name) + len(v) + 6
	}
	return size
}

// appendOpSeq appends an op's sequence after its head.
func appendOpSeq(b []byte, seq uint64) []byte {
	b = append(b, `,"seq":`...)
	return strconv.AppendUint(b, seq, 10)
}

// appendOpTail ends an op's StoredOp form with its digest.
func appendOpTail(b []byte, op *syncengine.Op) []byte {
	b = append(b, `,"digest":"`...)
	if op.Digest != "" {
		b = append(b, op.Digest...)
	} else {
		b = append(b, syncengine.OpDigest(op)...)
	}
	return append(b, '"', '}')
}

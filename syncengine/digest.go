package syncengine

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"slices"
)

// OpDigest returns the hex sha256 of what the writer of op made: ids,
// collection, area, author, device, the stamp the writer gave (StatedHLC
// when the server restamped it), the fields it sets (values compacted, so
// insignificant whitespace does not count), the tombstone, the bases, the
// writer's clocks and its clock-suspect flag. What a server adds on receipt
// (its flags other than clock_suspect, its restamp, the receive time) is
// left out, so the same op sent again has the same digest wherever and
// whenever it arrives, and any other op with the same id has another.
func OpDigest(op *Op) string {
	// The digest is computed on every accepted op (the store keeps it) and
	// on every resend, so it writes straight into the hash from one
	// scratch buffer, and compacts a value only when it holds whitespace.
	h := sha256.New()
	b := make([]byte, 0, 512)
	flush := func() {
		if len(b) >= 256 {
			h.Write(b)
			b = b[:0]
		}
	}
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
		flush()
	}
	raw := func(v []byte) {
		b = binary.AppendUvarint(b, uint64(len(v)))
		h.Write(b)
		h.Write(v)
		b = b[:0]
	}
	num := func(v uint64) {
		b = binary.BigEndian.AppendUint64(b, v)
		flush()
	}
	str("ruhu-op-v1")
	str(op.ID)
	str(op.RecordID)
	str(op.Collection)
	str(op.Area)
	str(op.Author)
	str(op.Device)
	stamp := op.HLC
	if op.StatedHLC != 0 {
		stamp = op.StatedHLC
	}
	num(uint64(stamp))
	num(uint64(len(op.Set)))
	var compact bytes.Buffer
	for _, name := range sortedKeys(op.Set) {
		str(name)
		v := op.Set[name]
		if !bytes.ContainsAny(v, " \t\r\n") {
			// Nothing to elide: compacting valid JSON would give the same
			// bytes, and invalid JSON is digested as it is anyway.
			raw(v)
			continue
		}
		compact.Reset()
		if err := json.Compact(&compact, v); err != nil {
			raw(v) // invalid JSON: Validate refuses it; digest the bytes
		} else {
			raw(compact.Bytes())
		}
	}
	if op.Tombstone != nil {
		str("del")
		str(op.Tombstone.Reason)
	} else {
		str("")
	}
	num(uint64(len(op.Base)))
	for _, name := range sortedKeys(op.Base) {
		str(name)
		str(op.Base[name])
	}
	var dt, st int64
	if !op.DeviceTime.IsZero() {
		dt = op.DeviceTime.UnixMilli()
	}
	if !op.ServerTimeEst.IsZero() {
		st = op.ServerTimeEst.UnixMilli()
	}
	num(uint64(dt))
	num(uint64(st))
	if op.HasFlag(FlagClockSuspect) {
		str(FlagClockSuspect)
	} else {
		str("")
	}
	h.Write(b)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// CheckResend decides what an incoming op means when history already holds
// an accepted op with its id. It returns nil when incoming is that same op
// sent again (acknowledge it as the first time: resends are idempotent),
// and an *Error with code ECONFLICT when the id was reused for other
// content: such an op is refused on its own, never acknowledged, since
// acknowledging it would tell the tablet that data the server dropped was
// delivered. The tablet parks it with its rejections; making the change
// again gives it a fresh id. The accepted op's stored digest is used when
// the store kept one (Op.Digest), otherwise it is recomputed.
func CheckResend(accepted, incoming *Op) error {
	want := accepted.Digest
	if want == "" {
		want = OpDigest(accepted)
	}
	if OpDigest(incoming) == want {
		return nil
	}
	// The message names nothing of the accepted op: it may lie outside the
	// sender's scope.
	return Errorf(ECONFLICT, "op id %s was already used for a different op; make the change again to get a new op id", incoming.ID)
}

// OpDigests is implemented by stores that remember the digest of every
// accepted op (see OpDigest). Apply uses it to tell a resend from an op id
// reused for other content.
type OpDigests interface {
	// AcceptedDigest returns the digest recorded for the accepted op with
	// this id, and false when no op with this id was accepted.
	AcceptedDigest(id string) (string, bool, error)
}

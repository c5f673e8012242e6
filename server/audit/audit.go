// Package audit is ruhu's tamper-evident audit log: every accepted push
// batch, conflict resolution, login, failed login, device enrolment and
// revocation, account change, import and export is an Entry whose hash
// covers the hash of the entry before it. Changing, deleting or reordering
// any stored entry breaks the chain at that entry, and Verifier names it;
// the head hash, kept outside the system (Anchor), also exposes a cut
// tail.
//
// The package holds the entry type, its one canonical byte encoding and
// the chain rules; stores keep the bytes (server/boltstore keeps them in
// their own bucket, written in the transaction of the thing audited). It
// imports only the standard library.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind says what an entry records. The values are stored: never change one.
type Kind string

// The kinds of audited events.
const (
	KindPush        Kind = "push"         // an accepted push batch (digest, signature, counts)
	KindResolve     Kind = "resolve"      // a conflict confirmed or overridden
	KindLogin       Kind = "login"        // a password login that succeeded
	KindLoginFailed Kind = "login_failed" // a password login that failed
	KindEnroll      Kind = "enroll"       // a tablet enrolled with its public key
	KindRevoke      Kind = "revoke"       // a device revoked
	KindUser        Kind = "user"         // an account created, or its role or scopes changed
	KindImport      Kind = "import"       // a household register imported
	KindExport      Kind = "export"       // a report or data export downloaded
)

// Kinds lists every kind, for validation and documentation.
var kinds = []Kind{KindPush, KindResolve, KindLogin, KindLoginFailed, KindEnroll, KindRevoke, KindUser, KindImport, KindExport}

// Known reports whether k is one of the kinds above.
func Known(k Kind) bool { return slices.Contains(kinds, k) }

// HashSize is the size of an entry hash (sha256).
const HashSize = sha256.Size

// Limits on the fields of an entry, so one entry stays small whatever a
// caller puts in it (a failed login names whatever user was typed).
const (
	MaxField        = 256  // actor, device, area, a detail key
	MaxDetailValue  = 1024 // one detail value
	MaxDetailFields = 32
)

// Entry is one audited event. Seq, Prev and Hash are set by Link when the
// entry joins the chain; the rest by whoever records the event.
type Entry struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Kind   Kind      `json:"kind"`
	Actor  string    `json:"actor"`            // the user who acted ("" for none)
	Device string    `json:"device,omitempty"` // the enrolled device, "" for console and CLI
	Area   string    `json:"area"`             // the area-code prefix the event concerns ("" = everything)
	// Detail holds the event's facts as text (counts, digest, signature,
	// conflict id); encoded in key order, so it has one canonical form.
	Detail map[string]string `json:"detail,omitempty"`
	Prev   []byte            `json:"prev"` // Hash of entry Seq-1; HashSize zero bytes for the first
	Hash   []byte            `json:"hash"` // sha256(Prev || Canonical(entry))
}

// Validate checks the fields a recorder sets: a known kind, valid UTF-8
// within the limits. Errors name the field.
func (e *Entry) Validate() error {
	if !Known(e.Kind) {
		return fmt.Errorf("audit entry: unknown kind %q", e.Kind)
	}
	for name, v := range map[string]string{"actor": e.Actor, "device": e.Device, "area": e.Area} {
		if len(v) > MaxField || !utf8.ValidString(v) {
			return fmt.Errorf("audit entry: %s is not valid UTF-8 of at most %d bytes", name, MaxField)
		}
	}
	if len(e.Detail) > MaxDetailFields {
		return fmt.Errorf("audit entry: more than %d detail fields", MaxDetailFields)
	}
	for k, v := range e.Detail {
		if k == "" || len(k) > MaxField || len(v) > MaxDetailValue || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("audit entry: detail %q is not valid UTF-8 within the limits", k)
		}
	}
	return nil
}

// encodingVersion is the first byte of every encoded entry.
const encodingVersion = 1

// Canonical returns the bytes the entry's hash covers: every field but
// Prev and Hash, in one fixed order, strings length-prefixed (uvarint),
// the time as UTC Unix nanoseconds, detail keys sorted. Two entries with
// the same content always have the same canonical bytes.
func (e *Entry) Canonical() []byte {
	b := make([]byte, 0, 128)
	b = append(b, encodingVersion)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	for _, s := range []string{string(e.Kind), e.Actor, e.Device, e.Area} {
		b = appendString(b, s)
	}
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, e.Detail[k])
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// ChainHash is the hash of an entry whose canonical bytes are canonical,
// following the entry whose hash is prev: sha256(prev || canonical).
func ChainHash(prev, canonical []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(canonical)
	return h.Sum(nil)
}

// Genesis is the Prev of the first entry: HashSize zero bytes.
func Genesis() []byte { return make([]byte, HashSize) }

// Link makes e the entry after head (nil head: the first entry): it sets
// Seq, Prev and Hash, with Time truncated to what the encoding keeps (UTC
// nanoseconds). It refuses an entry that does not Validate.
func Link(head *Entry, e *Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	e.Time = e.Time.UTC()
	if head == nil {
		e.Seq, e.Prev = 1, Genesis()
	} else {
		e.Seq, e.Prev = head.Seq+1, slices.Clone(head.Hash)
	}
	e.Hash = ChainHash(e.Prev, e.Canonical())
	return nil
}

// Marshal returns the stored form of a linked entry: Canonical, then Prev
// and Hash.
func (e *Entry) Marshal() []byte {
	b := e.Canonical()
	b = append(b, e.Prev...)
	return append(b, e.Hash...)
}

// ErrMalformed is wrapped by Unmarshal's errors.
var ErrMalformed = errors.New("malformed audit entry")

// Unmarshal decodes a stored entry strictly: the known version, lengths
// within the bytes and the limits, valid UTF-8, detail keys strictly
// ascending, a 32-byte Prev and Hash, nothing after them. It does not
// check the hash (Verifier does). Errors wrap ErrMalformed.
func Unmarshal(b []byte) (*Entry, error) {
	d := decoder{b: b}
	if v := d.byte(); v != encodingVersion {
		return nil, fmt.Errorf("%w: version %d", ErrMalformed, v)
	}
	e := &Entry{Seq: d.u64()}
	e.Time = time.Unix(0, int64(d.u64())).UTC()
	e.Kind = Kind(d.str(MaxField))
	e.Actor, e.Device, e.Area = d.str(MaxField), d.str(MaxField), d.str(MaxField)
	n := d.uvarint()
	if n > MaxDetailFields {
		d.fail("too many detail fields")
	}
	prevKey := ""
	for i := uint64(0); i < n && d.err == nil; i++ {
		k, v := d.str(MaxField), d.str(MaxDetailValue)
		if d.err == nil && (k == "" || (i > 0 && k <= prevKey)) {
			d.fail("detail keys not strictly ascending")
		}
		if e.Detail == nil {
			e.Detail = make(map[string]string, n)
		}
		e.Detail[k], prevKey = v, k
	}
	e.Prev, e.Hash = d.bytes(HashSize), d.bytes(HashSize)
	if d.err == nil && d.off != len(d.b) {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, d.err
	}
	if !Known(e.Kind) {
		return nil, fmt.Errorf("%w: unknown kind %q", ErrMalformed, e.Kind)
	}
	return e, nil
}

// decoder reads the encoding, keeping the first error.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", ErrMalformed, what, d.off)
	}
}

func (d *decoder) need(n int) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || len(d.b)-d.off < n {
		d.fail("truncated")
		return false
	}
	return true
}

func (d *decoder) byte() byte {
	if !d.need(1) {
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *decoder) u64() uint64 {
	if !d.need(8) {
		return 0
	}
	d.off += 8
	return binary.BigEndian.Uint64(d.b[d.off-8:])
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad length")
		return 0
	}
	// Only the shortest form is canonical.
	if n != len(binary.AppendUvarint(nil, v)) {
		d.fail("non-minimal length")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) str(limit int) string {
	n := d.uvarint()
	if d.err == nil && n > uint64(limit) {
		d.fail("string too long")
	}
	if !d.need(int(n)) {
		return ""
	}
	s := string(d.b[d.off : d.off+int(n)])
	if !utf8.ValidString(s) {
		d.fail("invalid UTF-8")
	}
	d.off += int(n)
	return s
}

func (d *decoder) bytes(n int) []byte {
	if !d.need(n) {
		return nil
	}
	d.off += n
	return bytes.Clone(d.b[d.off-n : d.off])
}

// BrokenError says where a chain stops being trustworthy: the first entry
// (by sequence) that was changed, is missing, or is out of place.
type BrokenError struct {
	Seq    uint64 // the first bad entry
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit chain broken at entry %d: %s", e.Seq, e.Reason)
}

// Head is a chain's last entry as an anchor: what the county keeps outside
// the system to prove later that nothing up to it was changed or cut.
type Head struct {
	Seq  uint64
	Hash []byte
	Time time.Time
}

// String formats the head as "<seq>:<hex hash>", the form ParseHead reads.
func (h Head) String() string { return fmt.Sprintf("%d:%s", h.Seq, hex.EncodeToString(h.Hash)) }

// ParseHead reads "<seq>:<hex hash>".
func ParseHead(s string) (Head, error) {
	var h Head
	var hx string
	if _, err := fmt.Sscanf(s, "%d:%s", &h.Seq, &hx); err != nil {
		return Head{}, fmt.Errorf("anchor %q: want <seq>:<hex sha256>", s)
	}
	b, err := hex.DecodeString(hx)
	if err != nil || len(b) != HashSize || h.Seq == 0 {
		return Head{}, fmt.Errorf("anchor %q: want <seq>:<hex sha256>", s)
	}
	h.Hash = b
	return h, nil
}

// Verifier re-checks a chain entry by entry, in key order. Feed every
// stored entry to Next; the first error is a *BrokenError naming the first
// bad entry, and the Verifier stops there.
type Verifier struct {
	head *Entry
	err  error
}

// Next checks the stored entry kept under key (its sequence): that it
// decodes, sits under its own sequence, follows the previous entry without
// a gap, carries the previous hash, and that its hash matches its content.
func (v *Verifier) Next(key uint64, raw []byte) error {
	if v.err != nil {
		return v.err
	}
	want := uint64(1)
	prev := Genesis()
	if v.head != nil {
		want, prev = v.head.Seq+1, v.head.Hash
	}
	broken := func(seq uint64, format string, args ...any) error {
		v.err = &BrokenError{Seq: seq, Reason: fmt.Sprintf(format, args...)}
		return v.err
	}
	if key > want {
		return broken(want, "missing (the next stored entry is %d)", key)
	}
	if key < want {
		return broken(key, "out of order after entry %d", want-1)
	}
	e, err := Unmarshal(raw)
	if err != nil {
		return broken(key, "cannot be decoded: %v", err)
	}
	if e.Seq != key {
		return broken(key, "holds sequence %d (moved or reordered)", e.Seq)
	}
	if !bytes.Equal(e.Prev, prev) {
		return broken(key, "previous hash does not match entry %d", want-1)
	}
	if !bytes.Equal(e.Hash, ChainHash(e.Prev, e.Canonical())) {
		return broken(key, "hash does not match its content (changed)")
	}
	v.head = e
	return nil
}

// Head returns the last entry checked so far (zero Head before the first).
func (v *Verifier) Head() Head {
	if v.head == nil {
		return Head{}
	}
	return Head{Seq: v.head.Seq, Hash: v.head.Hash, Time: v.head.Time}
}

// Entry returns the last good entry checked so far, or nil.
func (v *Verifier) Entry() *Entry { return v.head }

// CheckAnchor reports whether a verified chain still holds the anchored
// entry with the anchored hash: after Next has seen every entry, an anchor
// past the head means the tail was cut; a different hash means the
// history up to the anchor was rewritten. hashAt returns the stored hash
// of entry seq (nil if none).
func CheckAnchor(anchor Head, head Head, hashAt func(seq uint64) []byte) error {
	if anchor.Seq > head.Seq {
		return &BrokenError{Seq: head.Seq + 1, Reason: fmt.Sprintf("missing: the anchor names entry %d but the chain ends at %d (cut)", anchor.Seq, head.Seq)}
	}
	if got := hashAt(anchor.Seq); !bytes.Equal(got, anchor.Hash) {
		return &BrokenError{Seq: anchor.Seq, Reason: "hash differs from the anchor kept outside the system (rewritten)"}
	}
	return nil
}

// Clip makes outside text fit a field: invalid UTF-8 replaced, cut to at
// most MaxField bytes at a character boundary. Recorders use it for what
// they did not check themselves (the user name typed at a failed login).
func Clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	for len(s) > MaxField {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

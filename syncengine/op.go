package syncengine

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// DeletedField is the reserved field that holds a record's tombstone. It
// merges like any other field, so deletions converge too.
const DeletedField = "_deleted"

// Flags an operation or record can carry; they are shown in the API.
const (
	// FlagRestamped: the operation was stamped too far ahead of the server's
	// clock and was given the server's time instead; it did not win merges
	// with its own stamp.
	FlagRestamped = "restamped"
	// FlagClockSuspect: the tablet could not vouch for its clock when the
	// operation was made (a reboot or clock change since its last sync).
	FlagClockSuspect = "clock_suspect"
	// FlagDeviceClockOff: the tablet's own clock disagreed with its estimate
	// of server time by more than the allowed skew (a tablet set to 1970).
	FlagDeviceClockOff = "device_clock_off"
)

// Op is one write made on a replica: the fields it sets on one record, or a
// tombstone. Ops are immutable once made and identified by ID everywhere.
type Op struct {
	ID         string
	RecordID   string
	Collection string
	Area       string // 12-digit statistical area code: the record's partition and access key
	Author     string // username of the person who made the change
	Device     string
	HLC        HLC
	Set        map[string]json.RawMessage
	Tombstone  *Tombstone
	// Base holds, for each field the op sets, the op id of the version of
	// that field the writer last saw ("" or absent: it saw none). It is how
	// concurrent edits are told apart from sequential ones.
	Base map[string]string

	// DeviceTime is the tablet's own clock when the op was made.
	DeviceTime time.Time
	// ServerTimeEst is the tablet's estimate of server time then (device
	// time plus the offset it measured at its last sync); zero if unknown.
	ServerTimeEst time.Time

	// Set by the server on receipt.
	Flags      []string
	StatedHLC  HLC // the stamp the tablet gave, when the server restamped it
	ReceivedAt time.Time
	// Digest is OpDigest of the op as the store recorded it when it was
	// accepted; set on ops read back from a store that keeps digests, and
	// by the server when it admits a pushed op (worked out then, in
	// parallel, so the write transaction need not hash it); empty
	// otherwise. CheckResend compares it with a resend's digest.
	Digest string
}

// Tombstone marks a record deleted. Evidence is never deleted silently, so
// a reason is required.
type Tombstone struct {
	Reason string `json:"reason"`
}

// HasFlag reports whether the op carries flag.
func (op *Op) HasFlag(flag string) bool {
	for _, f := range op.Flags {
		if f == flag {
			return true
		}
	}
	return false
}

// AddFlag adds flag once.
func (op *Op) AddFlag(flag string) {
	if !op.HasFlag(flag) {
		op.Flags = append(op.Flags, flag)
	}
}

// Changes returns the op's field writes, the tombstone included as
// DeletedField, sorted by field name so application is deterministic.
func (op *Op) Changes() []FieldWrite {
	out := make([]FieldWrite, 0, len(op.Set)+1)
	for name, v := range op.Set {
		out = append(out, FieldWrite{Name: name, Value: v})
	}
	if op.Tombstone != nil {
		v, _ := json.Marshal(op.Tombstone)
		out = append(out, FieldWrite{Name: DeletedField, Value: v})
	}
	slices.SortFunc(out, func(a, b FieldWrite) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// FieldWrite is one field an op sets.
type FieldWrite struct {
	Name  string
	Value json.RawMessage
}

// Key returns the record key "collection/id" used by stores.
func (op *Op) Key() string { return op.Collection + "/" + op.RecordID }

// MaxIDLen bounds ids so keys stay small and logs readable.
const MaxIDLen = 64

// Validate checks the op's shape: ids, area code, stamp and fields. It does
// not know collections' schemas (package schemas does) nor who may write
// what (the server does). It returns an *Error with code EINVALID naming the
// offending field.
func (op *Op) Validate() error {
	if err := checkID("op id", op.ID); err != nil {
		return err
	}
	if err := checkID("record id", op.RecordID); err != nil {
		return err
	}
	if err := checkID("collection", op.Collection); err != nil {
		return err
	}
	if !ValidAreaCode(op.Area) {
		return Errorf(EINVALID, "op %s: area code %q must be 12 digits", op.ID, op.Area)
	}
	if op.Author == "" || op.Device == "" {
		return Errorf(EINVALID, "op %s: author and device are required", op.ID)
	}
	if op.HLC == 0 {
		return Errorf(EINVALID, "op %s: hlc is required", op.ID)
	}
	if op.HLC > MaxHLC {
		return Errorf(EINVALID, "op %s: hlc %d is beyond the last representable time (year 9999)", op.ID, uint64(op.HLC))
	}
	if len(op.Set) == 0 && op.Tombstone == nil {
		return Errorf(EINVALID, "op %s: sets no field", op.ID)
	}
	if op.Tombstone != nil {
		if err := checkReason(op.ID, op.Tombstone.Reason); err != nil {
			return err
		}
	}
	for name, v := range op.Set {
		if name == "" || strings.HasPrefix(name, "_") || len(name) > MaxIDLen {
			return Errorf(EINVALID, "op %s: field name %q is not allowed", op.ID, name)
		}
		if !json.Valid(v) {
			return Errorf(EINVALID, "op %s: field %s: value is not valid JSON", op.ID, name)
		}
	}
	for name := range op.Base {
		if _, ok := op.Set[name]; !ok && !(name == DeletedField && op.Tombstone != nil) {
			return Errorf(EINVALID, "op %s: base names field %s that the op does not set", op.ID, name)
		}
	}
	return nil
}

// MaxReasonLen bounds a deletion reason in bytes: 1,000 bytes is over 300
// Chinese characters, more than any reason a form asks for, and the reason
// is copied into the record, its history and every pull.
const MaxReasonLen = 1000

func checkReason(opID, reason string) error {
	switch {
	case strings.TrimSpace(reason) == "":
		return Errorf(EINVALID, "op %s: a deletion needs a reason", opID)
	case len(reason) > MaxReasonLen:
		return Errorf(EINVALID, "op %s: deletion reason of %d bytes exceeds %d", opID, len(reason), MaxReasonLen)
	case !utf8.ValidString(reason):
		return Errorf(EINVALID, "op %s: deletion reason is not valid UTF-8", opID)
	case strings.ContainsRune(reason, 0) || strings.ContainsRune(reason, utf8.RuneError):
		// encoding/json turns a lone surrogate (\ud800) into U+FFFD when
		// it decodes the reason, so U+FFFD is how one shows here.
		return Errorf(EINVALID, "op %s: deletion reason holds a NUL character or a lone surrogate", opID)
	}
	return nil
}

func checkID(what, id string) error {
	if id == "" || len(id) > MaxIDLen {
		return Errorf(EINVALID, "%s %q must be 1 to %d characters", what, id, MaxIDLen)
	}
	for _, r := range id {
		if r <= ' ' || r == '/' || r > '~' {
			return Errorf(EINVALID, "%s %q: only printable ASCII without spaces or '/'", what, id)
		}
	}
	return nil
}

// ValidAreaCode reports whether code is a 12-digit statistical area code.
func ValidAreaCode(code string) bool {
	if len(code) != 12 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// ValidAreaPrefix reports whether p is a non-empty prefix of an area code
// (1 to 12 digits).
func ValidAreaPrefix(p string) bool {
	if len(p) == 0 || len(p) > 12 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

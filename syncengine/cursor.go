package syncengine

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// Cursor marks how far a replica has pulled: the server's epoch and the last
// change sequence it returned. The epoch is a random id of one server store
// lineage; a store restored from a backup gets a new one, so a tablet whose
// cursor names an epoch the server does not know (or a sequence beyond the
// server's last) is told to resynchronise in full instead of trusting
// sequences that may now mean other changes.
type Cursor struct {
	Epoch string
	Seq   uint64
}

const cursorVersion = "c1"

// Encode returns the opaque string form clients store and send back.
func (c Cursor) Encode() string {
	if c.Epoch == "" {
		return ""
	}
	raw := cursorVersion + ":" + c.Epoch + ":" + strconv.FormatUint(c.Seq, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor parses an opaque cursor. The empty string is the zero cursor
// (pull everything). Anything else that is not a cursor is EINVALID.
func DecodeCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	if len(s) > 256 {
		return Cursor{}, Errorf(EINVALID, "cursor is too long")
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, Errorf(EINVALID, "cursor is not valid")
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 || parts[0] != cursorVersion || parts[1] == "" {
		return Cursor{}, Errorf(EINVALID, "cursor is not valid")
	}
	seq, err := strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		return Cursor{}, Errorf(EINVALID, "cursor is not valid")
	}
	return Cursor{Epoch: parts[1], Seq: seq}, nil
}

package server

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// decodePushBody decodes a push body into req. Bodies as tablets write
// them (the keys of syncengine.WireOp in lower case, once each, plain
// strings and integers) are read by fastPushDecoder, which makes no copy
// of the field values (a push's raw values point into body, which nothing
// else holds) and one string per distinct collection, area, author,
// device and field name rather than one per op. Anything else — escapes
// in the strings it turns into Go strings, another spelling of a key,
// null, a key twice, a tombstone, a number out of range, trailing data —
// goes to decodeJSONBody, which decides and words the refusal, so the
// answer to any body is the one decodeJSONBody gives (FuzzPushBodyDecoder
// holds the two to encoding/json).
func decodePushBody(body []byte, req *syncengine.PushRequest) error {
	d := fastPushDecoder{b: body}
	if d.request(req) {
		return nil
	}
	*req = syncengine.PushRequest{}
	return decodeJSONBody(body, req)
}

// fastPushDecoder reads the common form of a push body; each method
// reports false at the first thing it does not handle.
type fastPushDecoder struct {
	b     []byte
	i     int
	names map[string]string // interned strings
}

// maxRawDepth bounds the nesting of a raw value the fast path reads.
const maxRawDepth = 100

func (d *fastPushDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next skips white space and reports whether the next byte is c,
// consuming it if so.
func (d *fastPushDecoder) next(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// plain reads a string without escapes or control characters whose bytes
// are valid UTF-8, and returns its bytes (borrowed from the body).
func (d *fastPushDecoder) plain() ([]byte, bool) {
	if !d.next('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s, utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		}
		d.i++
	}
	return nil, false
}

// name is plain as an interned Go string.
func (d *fastPushDecoder) name() (string, bool) {
	b, ok := d.plain()
	if !ok {
		return "", false
	}
	return d.intern(b), true
}

// str is plain as a new Go string.
func (d *fastPushDecoder) str() (string, bool) {
	b, ok := d.plain()
	return string(b), ok
}

// uint reads a JSON integer without sign, fraction or exponent that fits
// in a uint64.
func (d *fastPushDecoder) uint() (uint64, bool) {
	d.ws()
	start := d.i
	var n uint64
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		digit := uint64(d.b[d.i] - '0')
		if n > (1<<64-1-digit)/10 {
			return 0, false
		}
		n = n*10 + digit
		d.i++
	}
	switch {
	case d.i == start, d.i-start > 1 && d.b[start] == '0':
		return 0, false
	case d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E'):
		return 0, false
	}
	return n, true
}

// int reads a JSON integer, perhaps negative, that fits in an int64.
func (d *fastPushDecoder) int() (int64, bool) {
	d.ws()
	neg := d.i < len(d.b) && d.b[d.i] == '-'
	if neg {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] < '0' || d.b[d.i] > '9') {
			return 0, false // "- 1" and "-x" are not numbers
		}
	}
	n, ok := d.uint()
	switch {
	case !ok:
		return 0, false
	case neg && n <= 1<<63:
		return -int64(n), true
	case !neg && n < 1<<63:
		return int64(n), true
	}
	return 0, false
}

// raw reads any JSON value and returns its bytes (borrowed from the body,
// capacity clipped so that appending to them cannot write into it).
func (d *fastPushDecoder) raw() (json.RawMessage, bool) {
	d.ws()
	start := d.i
	if !d.skip(0) {
		return nil, false
	}
	return json.RawMessage(d.b[start:d.i:d.i]), true
}

// skip checks one JSON value at d.i and moves past it.
func (d *fastPushDecoder) skip(depth int) bool {
	if depth > maxRawDepth || d.i >= len(d.b) {
		return false
	}
	switch c := d.b[d.i]; {
	case c == '"':
		return d.skipString()
	case c == '{':
		d.i++
		if d.next('}') {
			return true
		}
		for {
			d.ws()
			if d.i >= len(d.b) || d.b[d.i] != '"' || !d.skipString() || !d.next(':') {
				return false
			}
			d.ws()
			if !d.skip(depth + 1) {
				return false
			}
			if d.next('}') {
				return true
			}
			if !d.next(',') {
				return false
			}
		}
	case c == '[':
		d.i++
		if d.next(']') {
			return true
		}
		for {
			d.ws()
			if !d.skip(depth + 1) {
				return false
			}
			if d.next(']') {
				return true
			}
			if !d.next(',') {
				return false
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		return d.skipNumber()
	default:
		return d.lit("true") || d.lit("false") || d.lit("null")
	}
}

// skipString checks a JSON string at d.i (escapes included) and moves
// past it. Like encoding/json, it takes any bytes but controls in it.
func (d *fastPushDecoder) skipString() bool {
	d.i++ // the opening quote
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			d.i++
			if d.i >= len(d.b) {
				return false
			}
			switch d.b[d.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.i++
			case 'u':
				if len(d.b)-d.i < 5 {
					return false
				}
				for _, h := range d.b[d.i+1 : d.i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false
					}
				}
				d.i += 5
			default:
				return false
			}
		default:
			d.i++
		}
	}
	return false
}

// skipNumber checks a JSON number at d.i and moves past it.
func (d *fastPushDecoder) skipNumber() bool {
	digits := func() int {
		start := d.i
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
		}
		return d.i - start
	}
	if d.b[d.i] == '-' {
		d.i++
	}
	if d.i < len(d.b) && d.b[d.i] == '0' {
		d.i++
	} else if digits() == 0 {
		return false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// object reads an object whose keys are plain strings, calling field for
// each key with the decoder on its value; field reads the value.
func (d *fastPushDecoder) object(field func(key []byte) bool) bool {
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		return true
	}
	for {
		key, ok := d.plain()
		if !ok || !d.next(':') || !field(key) {
			return false
		}
		if d.next('}') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

func (d *fastPushDecoder) request(req *syncengine.PushRequest) bool {
	var seen [2]bool
	ok := d.object(func(key []byte) bool {
		switch string(key) {
		case "ops":
			if seen[0] || !d.next('[') {
				return false
			}
			seen[0] = true
			// About 900 bytes of JSON per op, as tablets write them.
			req.Ops = make([]syncengine.WireOp, 0, min(len(d.b)/512+1, syncengine.MaxPushOps))
			if d.next(']') {
				return true
			}
			for {
				req.Ops = append(req.Ops, syncengine.WireOp{})
				if !d.op(&req.Ops[len(req.Ops)-1]) {
					return false
				}
				if d.next(']') {
					return true
				}
				if !d.next(',') {
					return false
				}
			}
		case "device_time":
			if seen[1] {
				return false
			}
			seen[1] = true
			var ok bool
			req.DeviceTime, ok = d.int()
			return ok
		}
		return false
	})
	d.ws()
	return ok && d.i == len(d.b)
}

// op reads one op; a tombstone ("del") and anything unusual is left to
// the general decoder.
func (d *fastPushDecoder) op(w *syncengine.WireOp) bool {
	var seen uint16
	once := func(bit uint16) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}
	return d.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "id":
			if ok = once(1 << 0); ok {
				w.ID, ok = d.str()
			}
		case "rid":
			if ok = once(1 << 1); ok {
				w.RecordID, ok = d.str()
			}
		case "col":
			if ok = once(1 << 2); ok {
				w.Collection, ok = d.name()
			}
		case "area":
			if ok = once(1 << 3); ok {
				w.Area, ok = d.name()
			}
		case "by":
			if ok = once(1 << 4); ok {
				w.Author, ok = d.name()
			}
		case "dev":
			if ok = once(1 << 5); ok {
				w.Device, ok = d.name()
			}
		case "hlc":
			if ok = once(1 << 6); ok {
				w.HLC, ok = d.uint()
			}
		case "dt":
			if ok = once(1 << 7); ok {
				w.DeviceTime, ok = d.int()
			}
		case "st":
			if ok = once(1 << 8); ok {
				w.ServerTimeEst, ok = d.int()
			}
		case "cs":
			if ok = once(1 << 9); ok {
				d.ws()
				switch {
				case d.lit("true"):
					w.ClockSuspect = true
				case d.lit("false"):
				default:
					ok = false
				}
			}
		case "set":
			if ok = once(1 << 10); ok {
				w.Set = make(map[string]json.RawMessage, 12)
				ok = d.object(func(key []byte) bool {
					name := d.intern(key)
					if _, dup := w.Set[name]; dup {
						return false
					}
					var ok bool
					w.Set[name], ok = d.raw()
					return ok
				})
			}
		case "base":
			if ok = once(1 << 11); ok {
				w.Base = make(map[string]string, 4)
				ok = d.object(func(key []byte) bool {
					name := d.intern(key)
					if _, dup := w.Base[name]; dup {
						return false
					}
					var ok bool
					w.Base[name], ok = d.str()
					return ok
				})
			}
		}
		return ok
	})
}

// lit consumes s if the body continues with it.
func (d *fastPushDecoder) lit(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

// intern returns b as a string, the same one for the same bytes.
func (d *fastPushDecoder) intern(b []byte) string {
	if s, ok := d.names[string(b)]; ok {
		return s
	}
	if d.names == nil {
		d.names = make(map[string]string, 32)
	}
	s := string(b)
	d.names[s] = s
	return s
}

package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// maxDepth bounds the nesting of arrays and objects in a field value; no
// schema goes deeper than 4, and the bound keeps recursion off hostile
// input.
const maxDepth = 64

// decodeValue parses one JSON value into the model the validator works on:
// nil, bool, string, json.Number, []any, map[string]any. It does what
// json.Decoder with UseNumber does, in one pass without reflection:
// decoding was a third of the cost of validating a visit, with
// encoding/json scanning every value twice. Strings that hold escapes or
// invalid UTF-8 are handed to encoding/json, so their meaning is exactly
// the standard library's. Trailing data after the value is an error.
func decodeValue(data []byte) (any, error) {
	d := valueDecoder{data: data}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.i != len(d.data) {
		return nil, d.syntaxError("data after the value")
	}
	return v, nil
}

type valueDecoder struct {
	data []byte
	i    int
}

// maxNumberLen and maxExponent bound number literals. The validator turns
// a number checked against minimum, maximum or integer into a big.Rat, and
// 1e999999 then costs ~150 ms of CPU: one short op could stall a server.
// Beyond these bounds a number is out of float64 range anyway.
const (
	maxNumberLen = 64
	maxExponent  = 400
)

var (
	errTooDeep     = errors.New("nested too deeply")
	errNumberRange = errors.New("number out of range")
	// Strings that JSON allows but no form produces, and that break what
	// stores them: NUL ends C strings (PostgreSQL text refuses it, logs
	// and spreadsheets cut there), and a lone UTF-16 surrogate (\ud800)
	// or invalid UTF-8 is silently turned into U+FFFD by encoding/json, so
	// the value stored is not the value sent.
	errNULString       = errors.New("NUL character in a string")
	errSurrogateString = errors.New("lone UTF-16 surrogate in a string")
	errUTF8String      = errors.New("invalid UTF-8 in a string")
)

func (d *valueDecoder) syntaxError(what string) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", d.i, what)
}

func (d *valueDecoder) skipSpace() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *valueDecoder) value(depth int) (any, error) {
	d.skipSpace()
	if d.i >= len(d.data) {
		return nil, d.syntaxError("unexpected end")
	}
	switch c := d.data[d.i]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		return d.string()
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	default:
		for _, lit := range [...]struct {
			text string
			v    any
		}{{"true", true}, {"false", false}, {"null", nil}} {
			if len(d.data)-d.i >= len(lit.text) && string(d.data[d.i:d.i+len(lit.text)]) == lit.text {
				d.i += len(lit.text)
				return lit.v, nil
			}
		}
		return nil, d.syntaxError("unexpected character")
	}
}

func (d *valueDecoder) object(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	d.i++ // {
	obj := make(map[string]any)
	d.skipSpace()
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		return obj, nil
	}
	for {
		d.skipSpace()
		if d.i >= len(d.data) || d.data[d.i] != '"' {
			return nil, d.syntaxError("want a string key")
		}
		key, err := d.string()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.i >= len(d.data) || d.data[d.i] != ':' {
			return nil, d.syntaxError("want ':'")
		}
		d.i++
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		obj[key] = v // a repeated key keeps its last value, as in encoding/json
		d.skipSpace()
		if d.i >= len(d.data) {
			return nil, d.syntaxError("unexpected end")
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return obj, nil
		default:
			return nil, d.syntaxError("want ',' or '}'")
		}
	}
}

func (d *valueDecoder) array(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	d.i++ // [
	arr := []any{}
	d.skipSpace()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		return arr, nil
	}
	for {
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		d.skipSpace()
		if d.i >= len(d.data) {
			return nil, d.syntaxError("unexpected end")
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return arr, nil
		default:
			return nil, d.syntaxError("want ',' or ']'")
		}
	}
}

// string decodes a string token starting at its opening quote.
func (d *valueDecoder) string() (string, error) {
	start := d.i
	d.i++
	plain := true // no escapes, all UTF-8 valid so far
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			if plain {
				return string(d.data[start+1 : d.i-1]), nil
			}
			var s string
			if err := json.Unmarshal(d.data[start:d.i], &s); err != nil {
				return "", err
			}
			if err := checkStringToken(d.data[start+1 : d.i-1]); err != nil {
				return "", err
			}
			return s, nil
		case c == '\\':
			plain = false
			d.i += 2 // skip the escaped byte; encoding/json checks the escape
		case c < 0x20:
			return "", d.syntaxError("control character in string")
		case c < utf8.RuneSelf:
			d.i++
		default:
			r, size := utf8.DecodeRune(d.data[d.i:])
			if r == utf8.RuneError && size == 1 {
				plain = false
			}
			d.i += size
		}
	}
	return "", d.syntaxError("unterminated string")
}

// number checks the JSON number grammar and returns the text as json.Number.
func (d *valueDecoder) number() (any, error) {
	start := d.i
	if d.data[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.data) && d.data[d.i] == '0':
		d.i++
	case d.i < len(d.data) && d.data[d.i] >= '1' && d.data[d.i] <= '9':
		d.digits()
	default:
		return nil, d.syntaxError("bad number")
	}
	if d.i < len(d.data) && d.data[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			return nil, d.syntaxError("bad fraction")
		}
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		expStart := d.i
		if d.digits() == 0 {
			return nil, d.syntaxError("bad exponent")
		}
		exp := 0
		for _, c := range d.data[expStart:d.i] {
			exp = exp*10 + int(c-'0')
			if exp > maxExponent {
				return nil, errNumberRange
			}
		}
	}
	if d.i-start > maxNumberLen {
		return nil, errNumberRange
	}
	return json.Number(d.data[start:d.i]), nil
}

func (d *valueDecoder) digits() int {
	n := 0
	for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}

// checkStringToken refuses the contents of a string token (between its
// quotes, already known to be valid JSON) that hold a NUL (\u0000), a
// UTF-16 surrogate escape not paired high then low, or bytes that are not
// UTF-8.
func checkStringToken(tok []byte) error {
	if !utf8.Valid(tok) {
		return errUTF8String
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] != '\\' {
			continue
		}
		i++
		if tok[i] != 'u' {
			continue
		}
		r := hex4(tok[i+1 : i+5])
		i += 4
		switch {
		case r == 0:
			return errNULString
		case r >= 0xDC00 && r <= 0xDFFF:
			return errSurrogateString
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 >= len(tok) || tok[i+1] != '\\' || tok[i+2] != 'u' {
				return errSurrogateString
			}
			if lo := hex4(tok[i+3 : i+7]); lo < 0xDC00 || lo > 0xDFFF {
				return errSurrogateString
			}
			i += 6
		}
	}
	return nil
}

// hex4 decodes four hex digits (already checked by the JSON grammar).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

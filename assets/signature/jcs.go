package signature

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrNotCanonicalizable means the input is not JSON that RFC 8785 can
// canonicalize: malformed JSON, a duplicate property name, invalid UTF-8,
// a lone surrogate escape, a number outside IEEE 754 double range, or
// nesting deeper than maxDepth.
var ErrNotCanonicalizable = errors.New("not canonicalizable JSON")

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 512

// Canonicalize returns the RFC 8785 (JSON Canonicalization Scheme) form of
// raw: no whitespace, object members sorted by the UTF-16 code units of
// their names, numbers in ECMAScript's shortest round-trip form, strings
// with the minimal JSON.stringify escaping. Two JSON texts with the same
// value canonicalize to the same bytes, which is what makes a hash of a
// record's content independent of who encoded it.
//
// The input must be I-JSON (RFC 7493); anything else fails with
// ErrNotCanonicalizable.
func Canonicalize(raw []byte) ([]byte, error) {
	p := parser{in: raw}
	v, err := p.document()
	if err != nil {
		return nil, err
	}
	return v.appendTo(make([]byte, 0, len(raw))), nil
}

// value is a parsed JSON value ready to be written canonically. Numbers are
// kept as float64 (I-JSON numbers are IEEE 754 doubles); strings as Go
// strings of valid UTF-8.
type value struct {
	kind    byte // 'n' null, 't' true, 'f' false, '#' number, '"' string, '[' array, '{' object
	num     float64
	str     string
	items   []value
	members []member
}

type member struct {
	name  string
	value value
}

func (v value) appendTo(b []byte) []byte {
	switch v.kind {
	case 'n':
		return append(b, "null"...)
	case 't':
		return append(b, "true"...)
	case 'f':
		return append(b, "false"...)
	case '#':
		return appendNumber(b, v.num)
	case '"':
		return appendString(b, v.str)
	case '[':
		b = append(b, '[')
		for i, it := range v.items {
			if i > 0 {
				b = append(b, ',')
			}
			b = it.appendTo(b)
		}
		return append(b, ']')
	default: // '{'
		b = append(b, '{')
		for i, m := range v.members {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, m.name)
			b = append(b, ':')
			b = m.value.appendTo(b)
		}
		return append(b, '}')
	}
}

// sortMembers orders object members by the UTF-16 code units of their
// names (RFC 8785 §3.2.3), which differs from UTF-8 byte order for
// characters above U+FFFF against U+E000–U+FFFF.
func sortMembers(ms []member) {
	slices.SortFunc(ms, func(a, b member) int { return compareUTF16(a.name, b.name) })
}

// compareUTF16 compares a and b as sequences of UTF-16 code units without
// converting them: code point order, except that a character above U+FFFF
// (a surrogate pair, units 0xD800–0xDFFF) sorts before U+E000–U+FFFF.
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			return cmp.Compare(utf16Key(ra), utf16Key(rb))
		}
		a, b = a[na:], b[nb:]
	}
	return cmp.Compare(len(a), len(b))
}

// utf16Key orders runes as their UTF-16 encodings order: a supplementary
// character by its surrogate pair (high then low), others by themselves.
func utf16Key(r rune) uint32 {
	if r < 0x10000 {
		return uint32(r) << 16
	}
	hi, lo := utf16.EncodeRune(r)
	return uint32(hi)<<16 | uint32(lo)
}

// appendNumber writes f as ECMAScript's Number.prototype.toString does
// (ECMA-262 §7.1.12.1), which RFC 8785 §3.2.2.3 adopts. strconv's shortest
// round-trip digits are the digits ECMAScript asks for; only the layout
// differs.
func appendNumber(b []byte, f float64) []byte {
	if f == 0 {
		return append(b, '0') // -0 too
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d[.ddd]e±XX
	mant, expStr, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expStr)
	k := len(digits)
	n := exp + 1 // the decimal point sits after n digits
	switch {
	case k <= n && n <= 21:
		b = append(b, digits...)
		for i := 0; i < n-k; i++ {
			b = append(b, '0')
		}
	case 0 < n && n <= 21:
		b = append(b, digits[:n]...)
		b = append(b, '.')
		b = append(b, digits[n:]...)
	case -6 < n && n <= 0:
		b = append(b, "0."...)
		for i := 0; i < -n; i++ {
			b = append(b, '0')
		}
		b = append(b, digits...)
	default:
		b = append(b, digits[0])
		if k > 1 {
			b = append(b, '.')
			b = append(b, digits[1:]...)
		}
		b = append(b, 'e')
		if n-1 >= 0 {
			b = append(b, '+')
		}
		b = strconv.AppendInt(b, int64(n-1), 10)
	}
	return b
}

// appendString writes s with the escaping of ECMAScript JSON.stringify
// (RFC 8785 §3.2.2.2): only '"', '\\' and control characters are
// escaped, the usual ones in short form and the rest as \u00xx.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b = append(b, '\\', '"')
		case c == '\\':
			b = append(b, '\\', '\\')
		case c >= 0x20:
			b = append(b, c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
	}
	return append(b, '"')
}

// parser is a strict recursive-descent JSON parser (RFC 8259) with the
// I-JSON restrictions RFC 8785 needs.
type parser struct {
	in    []byte
	pos   int
	depth int
}

func (p *parser) fail(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrNotCanonicalizable, p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) document() (value, error) {
	if !utf8.Valid(p.in) {
		return value{}, fmt.Errorf("%w: invalid UTF-8", ErrNotCanonicalizable)
	}
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return value{}, err
	}
	p.skipSpace()
	if p.pos != len(p.in) {
		return value{}, p.fail("data after the JSON value")
	}
	return v, nil
}

func (p *parser) skipSpace() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value() (value, error) {
	if p.pos >= len(p.in) {
		return value{}, p.fail("unexpected end of input")
	}
	switch c := p.in[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.string()
		return value{kind: '"', str: s}, err
	case c == 't':
		return p.literal("true", value{kind: 't'})
	case c == 'f':
		return p.literal("false", value{kind: 'f'})
	case c == 'n':
		return p.literal("null", value{kind: 'n'})
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return value{}, p.fail("unexpected character %q", c)
	}
}

func (p *parser) literal(word string, v value) (value, error) {
	if !strings.HasPrefix(string(p.in[p.pos:min(len(p.in), p.pos+len(word))]), word) {
		return value{}, p.fail("invalid literal")
	}
	p.pos += len(word)
	return v, nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.fail("nesting deeper than %d", maxDepth)
	}
	return nil
}

func (p *parser) object() (value, error) {
	if err := p.enter(); err != nil {
		return value{}, err
	}
	defer func() { p.depth-- }()
	p.pos++ // {
	v := value{kind: '{', members: []member{}}
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == '}' {
		p.pos++
		return v, nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.in) || p.in[p.pos] != '"' {
			return value{}, p.fail("expected a property name")
		}
		name, err := p.string()
		if err != nil {
			return value{}, err
		}
		p.skipSpace()
		if p.pos >= len(p.in) || p.in[p.pos] != ':' {
			return value{}, p.fail("expected ':'")
		}
		p.pos++
		p.skipSpace()
		mv, err := p.value()
		if err != nil {
			return value{}, err
		}
		v.members = append(v.members, member{name: name, value: mv})
		p.skipSpace()
		if p.pos >= len(p.in) {
			return value{}, p.fail("unterminated object")
		}
		if p.in[p.pos] == '}' {
			p.pos++
			break
		}
		if p.in[p.pos] != ',' {
			return value{}, p.fail("expected ',' or '}'")
		}
		p.pos++
	}
	sortMembers(v.members)
	for i := 1; i < len(v.members); i++ {
		if v.members[i].name == v.members[i-1].name {
			return value{}, fmt.Errorf("%w: duplicate property name %q", ErrNotCanonicalizable, v.members[i].name)
		}
	}
	return v, nil
}

func (p *parser) array() (value, error) {
	if err := p.enter(); err != nil {
		return value{}, err
	}
	defer func() { p.depth-- }()
	p.pos++ // [
	v := value{kind: '[', items: []value{}}
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == ']' {
		p.pos++
		return v, nil
	}
	for {
		p.skipSpace()
		it, err := p.value()
		if err != nil {
			return value{}, err
		}
		v.items = append(v.items, it)
		p.skipSpace()
		if p.pos >= len(p.in) {
			return value{}, p.fail("unterminated array")
		}
		if p.in[p.pos] == ']' {
			p.pos++
			return v, nil
		}
		if p.in[p.pos] != ',' {
			return value{}, p.fail("expected ',' or ']'")
		}
		p.pos++
	}
}

// number reads the RFC 8259 number grammar exactly, then converts it to
// the nearest double. Values beyond double range are refused (I-JSON).
func (p *parser) number() (value, error) {
	start := p.pos
	if p.in[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.in) && p.in[p.pos] == '0':
		p.pos++
	case p.pos < len(p.in) && p.in[p.pos] >= '1' && p.in[p.pos] <= '9':
		p.digits()
	default:
		return value{}, p.fail("invalid number")
	}
	if p.pos < len(p.in) && p.in[p.pos] == '.' {
		p.pos++
		if p.digits() == 0 {
			return value{}, p.fail("invalid number: no digits after '.'")
		}
	}
	if p.pos < len(p.in) && (p.in[p.pos] == 'e' || p.in[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.in) && (p.in[p.pos] == '+' || p.in[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return value{}, p.fail("invalid number: no digits in exponent")
		}
	}
	f, err := strconv.ParseFloat(string(p.in[start:p.pos]), 64)
	if err != nil || math.IsInf(f, 0) {
		return value{}, p.fail("number %s is outside the IEEE 754 double range", p.in[start:p.pos])
	}
	return value{kind: '#', num: f}, nil
}

func (p *parser) digits() int {
	n := 0
	for p.pos < len(p.in) && p.in[p.pos] >= '0' && p.in[p.pos] <= '9' {
		p.pos++
		n++
	}
	return n
}

// string reads a JSON string (the opening quote at p.pos) and returns its
// value. Escaped surrogates must pair up; raw control characters are
// refused.
func (p *parser) string() (string, error) {
	p.pos++ // "
	var sb strings.Builder
	for {
		start := p.pos
		for p.pos < len(p.in) && p.in[p.pos] != '"' && p.in[p.pos] != '\\' && p.in[p.pos] >= 0x20 {
			p.pos++
		}
		sb.Write(p.in[start:p.pos])
		if p.pos >= len(p.in) {
			return "", p.fail("unterminated string")
		}
		switch c := p.in[p.pos]; {
		case c == '"':
			p.pos++
			return sb.String(), nil
		case c < 0x20:
			return "", p.fail("control character %#x in string", c)
		}
		// backslash
		p.pos++
		if p.pos >= len(p.in) {
			return "", p.fail("unterminated escape")
		}
		c := p.in[p.pos]
		p.pos++
		switch c {
		case '"', '\\', '/':
			sb.WriteByte(c)
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r, err := p.hex4()
			if err != nil {
				return "", err
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xDC00 || p.pos+1 >= len(p.in) || p.in[p.pos] != '\\' || p.in[p.pos+1] != 'u' {
					return "", p.fail("lone surrogate \\u%04x", r)
				}
				p.pos += 2
				lo, err := p.hex4()
				if err != nil {
					return "", err
				}
				if lo < 0xDC00 || lo > 0xDFFF {
					return "", p.fail("lone surrogate \\u%04x", r)
				}
				r = utf16.DecodeRune(r, lo)
			}
			sb.WriteRune(r)
		default:
			return "", p.fail("invalid escape \\%c", c)
		}
	}
}

func (p *parser) hex4() (rune, error) {
	if p.pos+4 > len(p.in) {
		return 0, p.fail("short \\u escape")
	}
	var r rune
	for _, c := range p.in[p.pos : p.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, p.fail("invalid \\u escape")
		}
	}
	p.pos += 4
	return r, nil
}

package schemas

import (
	"encoding/json"
	"math/big"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// A compiled check is a field's JSON Schema turned, once per collection
// when the registry is built, into a plain tree that validates the field's
// raw JSON in one pass: no value model is built, numbers are not turned
// into big.Rat, strings are not copied. It only ever accepts: when it
// cannot vouch for a value (a keyword it does not know, an escaped string
// in a uniqueItems array, a number equal to a bound), or when the value is
// wrong, it answers false and the caller runs the full decode and the
// jsonschema library, which says exactly what is wrong. So accepted ⇒ the
// library accepts, and every refusal keeps its message; the fuzz test
// FuzzCompiledAgreesWithLibrary holds that.
//
// Profiles of a push had validation at a fifth of the CPU and two thirds
// of the allocations per op; most of it was the library's general walk
// (a validator per value, big.Rat per number) over a value model decoded
// first.
type compiledCheck struct {
	// exact is false when the schema uses a keyword this compiler does not
	// handle: the check then never accepts.
	exact bool
	types jsonTypes // 0: any type

	// string keywords
	enum           []string // nil: no enum; only enums of strings compile
	minLen, maxLen int      // -1: not set
	pattern        jsonschema.Regexp
	format         *jsonschema.Format

	// number keywords: each bound is kept exact (big.Rat) and as the float64
	// it equals exactly; a float64 strictly on the right side decides, a
	// tie is settled with the exact value.
	bounds []numberBound
	// fracDigits is k when multipleOf is 10^-k (0: integers); -1 when
	// multipleOf is not set.
	fracDigits int
	multipleOf *big.Rat

	// object keywords
	props      map[string]*compiledCheck
	propIndex  map[string]int // bit of each property in the presence mask
	required   uint64         // presence mask of the required properties
	depends    []dependency   // dependentRequired
	additional bool           // properties not in props are allowed (any value)

	// array keywords
	items              *compiledCheck // nil: any item
	minItems, maxItems int            // -1: not set
	unique             bool
}

// jsonTypes is a set of JSON Schema types.
type jsonTypes uint8

const (
	typeNull jsonTypes = 1 << iota
	typeBoolean
	typeNumber
	typeInteger
	typeString
	typeArray
	typeObject
)

var typeNames = map[string]jsonTypes{
	"null": typeNull, "boolean": typeBoolean, "number": typeNumber, "integer": typeInteger,
	"string": typeString, "array": typeArray, "object": typeObject,
}

// numberBound is one of minimum, maximum, exclusiveMinimum and
// exclusiveMaximum.
type numberBound struct {
	exact *big.Rat
	float float64
	// allowed lists the signs of value−bound that pass: -1, 0, +1.
	below, equal, above bool
}

// dependency is one dependentRequired entry as presence masks.
type dependency struct {
	if_, then uint64
}

// maxCompileDepth bounds $ref chains and nesting when compiling; the
// shipped schemas nest four deep.
const maxCompileDepth = 32

// compileCheck turns a compiled library schema into a compiledCheck.
func compileCheck(s *jsonschema.Schema) *compiledCheck {
	c := &compiledCheck{exact: true, minLen: -1, maxLen: -1, fracDigits: -1, minItems: -1, maxItems: -1, additional: true}
	c.merge(s, 0)
	return c
}

// merge adds the keywords of s (and of the schemas it $refs) to c. A
// keyword set twice along a $ref chain is not merged: c stops being exact.
func (c *compiledCheck) merge(s *jsonschema.Schema, depth int) {
	if s == nil {
		return
	}
	if depth > maxCompileDepth || !c.exact {
		c.exact = false
		return
	}
	if hasUncompiledKeywords(s) || len(s.AnyOf) > 0 {
		c.exact = false
		return
	}
	twice := false
	setInt := func(dst *int, src *int) {
		if src == nil {
			return
		}
		twice = twice || *dst >= 0
		*dst = *src
	}
	if s.Types != nil {
		twice = twice || c.types != 0
		for _, name := range s.Types.ToStrings() {
			t, ok := typeNames[name]
			if !ok {
				c.exact = false
				return
			}
			c.types |= t
		}
		if c.types == 0 {
			c.exact = false // an empty type list; not worth a special case
			return
		}
	}
	if s.Enum != nil {
		twice = twice || c.enum != nil
		c.enum = make([]string, 0, len(s.Enum.Values))
		for _, v := range s.Enum.Values {
			str, ok := v.(string)
			if !ok {
				c.exact = false
				return
			}
			c.enum = append(c.enum, str)
		}
	}
	setInt(&c.minLen, s.MinLength)
	setInt(&c.maxLen, s.MaxLength)
	if s.Pattern != nil {
		twice = twice || c.pattern != nil
		c.pattern = s.Pattern
	}
	if s.Format != nil {
		twice = twice || c.format != nil
		c.format = s.Format
	}
	for _, b := range []struct {
		rat                 *big.Rat
		below, equal, above bool
	}{
		{s.Minimum, false, true, true},
		{s.Maximum, true, true, false},
		{s.ExclusiveMinimum, false, false, true},
		{s.ExclusiveMaximum, true, false, false},
	} {
		if b.rat == nil {
			continue
		}
		f, exact := b.rat.Float64()
		if !exact {
			c.exact = false
			return
		}
		c.bounds = append(c.bounds, numberBound{exact: b.rat, float: f, below: b.below, equal: b.equal, above: b.above})
	}
	if s.MultipleOf != nil {
		twice = twice || c.multipleOf != nil
		c.multipleOf = s.MultipleOf
		c.fracDigits = decimalStep(s.MultipleOf)
		if c.fracDigits < 0 {
			c.exact = false
			return
		}
	}
	objectHere := len(s.Properties) > 0 || len(s.Required) > 0 || len(s.DependentRequired) > 0
	if objectHere {
		if c.props != nil || c.required != 0 || len(c.depends) > 0 {
			c.exact = false
			return
		}
		c.compileObject(s, depth)
	}
	switch ap := s.AdditionalProperties.(type) {
	case nil:
	case bool:
		// additionalProperties is relative to the properties beside it:
		// false is compiled only where the properties are.
		if !ap && !objectHere {
			c.exact = false
			return
		}
		c.additional = c.additional && ap
	default:
		c.exact = false
		return
	}
	setInt(&c.minItems, s.MinItems)
	setInt(&c.maxItems, s.MaxItems)
	c.unique = c.unique || s.UniqueItems
	if s.Items2020 != nil {
		twice = twice || c.items != nil
		c.items = compileCheckAt(s.Items2020, depth+1)
	}
	if twice {
		c.exact = false
		return
	}
	c.merge(s.Ref, depth+1)
}

// compileCheckAt is compileCheck of a nested schema.
func compileCheckAt(s *jsonschema.Schema, depth int) *compiledCheck {
	c := &compiledCheck{exact: true, minLen: -1, maxLen: -1, fracDigits: -1, minItems: -1, maxItems: -1, additional: true}
	c.merge(s, depth)
	return c
}

// compileObject compiles properties, required and dependentRequired. An
// object with more than 64 named properties is left to the library.
func (c *compiledCheck) compileObject(s *jsonschema.Schema, depth int) {
	names := make([]string, 0, len(s.Properties)+len(s.Required))
	for name := range s.Properties {
		names = append(names, name)
	}
	names = append(names, s.Required...)
	for name, deps := range s.DependentRequired {
		names = append(names, name)
		names = append(names, deps...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) > 64 {
		c.exact = false
		return
	}
	c.props = make(map[string]*compiledCheck, len(s.Properties))
	c.propIndex = make(map[string]int, len(names))
	for i, name := range names {
		c.propIndex[name] = i
	}
	for name, sub := range s.Properties {
		c.props[name] = compileCheckAt(sub, depth+1)
	}
	for _, name := range s.Required {
		c.required |= 1 << c.propIndex[name]
	}
	for name, deps := range s.DependentRequired {
		d := dependency{if_: 1 << c.propIndex[name]}
		for _, dep := range deps {
			d.then |= 1 << c.propIndex[dep]
		}
		c.depends = append(c.depends, d)
	}
}

// decimalStep returns k when r is 10^-k (k in 0..18), else -1.
func decimalStep(r *big.Rat) int {
	step := big.NewRat(1, 1)
	ten := big.NewRat(1, 10)
	for k := 0; k <= 18; k++ {
		if r.Cmp(step) == 0 {
			return k
		}
		step.Mul(step, ten)
	}
	return -1
}

// hasUncompiledKeywords reports whether s uses a keyword that neither
// compiledCheck nor compiledRoot handles (anyOf is handled at the root
// only, and is left to the callers).
func hasUncompiledKeywords(s *jsonschema.Schema) bool {
	return s.Bool != nil || s.RecursiveRef != nil || s.DynamicRef != nil || s.Const != nil || s.Not != nil ||
		len(s.AllOf) > 0 || len(s.OneOf) > 0 || s.If != nil || s.Then != nil || s.Else != nil ||
		s.MaxProperties != nil || s.MinProperties != nil || s.PropertyNames != nil || len(s.PatternProperties) > 0 ||
		len(s.Dependencies) > 0 || len(s.DependentSchemas) > 0 || s.UnevaluatedProperties != nil ||
		s.Contains != nil || s.MinContains != nil || s.MaxContains != nil || s.Items != nil || s.AdditionalItems != nil ||
		len(s.PrefixItems) > 0 || s.UnevaluatedItems != nil ||
		s.ContentEncoding != nil || s.ContentMediaType != nil || s.ContentSchema != nil || len(s.Extensions) > 0
}

// compiledRoot is a collection's whole-record schema as presence checks
// over its top-level fields; each field's value is checked by its own
// compiledCheck.
type compiledRoot struct {
	exact    bool
	fields   map[string]*compiledCheck
	required []string
	depends  map[string][]string
	anyOf    [][]string // at least one of these groups must be wholly present
}

// compileRoot compiles a collection's root schema: properties, required,
// additionalProperties false, dependentRequired, and anyOf whose branches
// only require fields (photos: household_id or case_id).
func compileRoot(root *jsonschema.Schema) *compiledRoot {
	r := &compiledRoot{exact: true, fields: make(map[string]*compiledCheck, len(root.Properties)),
		required: root.Required, depends: root.DependentRequired}
	for name, sub := range root.Properties {
		r.fields[name] = compileCheck(sub)
	}
	for _, alt := range root.AnyOf {
		if !onlyRequires(alt) {
			r.exact = false
			break
		}
		r.anyOf = append(r.anyOf, alt.Required)
	}
	if hasUncompiledKeywords(root) || root.Ref != nil || root.AdditionalProperties != false || root.Enum != nil ||
		root.Format != nil || root.Types == nil || !slices.Equal(root.Types.ToStrings(), []string{"object"}) {
		r.exact = false
	}
	return r
}

// onlyRequires reports whether s asserts nothing but required.
func onlyRequires(s *jsonschema.Schema) bool {
	return len(s.Required) > 0 && !hasUncompiledKeywords(s) && len(s.AnyOf) == 0 && s.Ref == nil && s.Types == nil &&
		s.Enum == nil && s.Format == nil && len(s.Properties) == 0 && s.AdditionalProperties == nil &&
		len(s.DependentRequired) == 0 && s.MinLength == nil && s.MaxLength == nil && s.Pattern == nil &&
		s.Minimum == nil && s.Maximum == nil && s.ExclusiveMinimum == nil && s.ExclusiveMaximum == nil &&
		s.MultipleOf == nil && s.MinItems == nil && s.MaxItems == nil && !s.UniqueItems && s.Items2020 == nil
}

// acceptsPatch reports whether every field is known and its value passes
// its compiled check. False is not a refusal: the library decides then.
func (r *compiledRoot) acceptsPatch(fields map[string]json.RawMessage) bool {
	for name, raw := range fields {
		check, ok := r.fields[name]
		if !ok || len(raw) > maxFieldBytes || !check.accepts(raw) {
			return false
		}
	}
	return true
}

// acceptsRecord is acceptsPatch plus the record-level requirements.
func (r *compiledRoot) acceptsRecord(fields map[string]json.RawMessage) bool {
	if !r.exact {
		return false
	}
	for _, name := range r.required {
		if _, ok := fields[name]; !ok {
			return false
		}
	}
	for name, deps := range r.depends {
		if _, ok := fields[name]; !ok {
			continue
		}
		for _, dep := range deps {
			if _, ok := fields[dep]; !ok {
				return false
			}
		}
	}
	if len(r.anyOf) > 0 && !slices.ContainsFunc(r.anyOf, func(group []string) bool {
		for _, name := range group {
			if _, ok := fields[name]; !ok {
				return false
			}
		}
		return true
	}) {
		return false
	}
	return r.acceptsPatch(fields)
}

// accepts reports whether data is one JSON value (surrounded by nothing
// but whitespace) that the check vouches for. A nil check vouches for any
// well-formed value.
func (c *compiledCheck) accepts(data []byte) bool {
	p := rawChecker{data: data}
	if !p.value(c, 0) {
		return false
	}
	p.skipSpace()
	return p.i == len(p.data)
}

// rawChecker walks raw JSON with the grammar and limits of valueDecoder
// (so what it accepts decodes there), checking values as it goes.
type rawChecker struct {
	data []byte
	i    int
}

func (p *rawChecker) skipSpace() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// allows reports whether a value of type t may pass c's type keyword.
func (c *compiledCheck) allows(t jsonTypes) bool {
	return c == nil || c.types == 0 || c.types&t != 0
}

// onlyTyped reports whether c constrains a non-string value of type t by
// nothing but its type: enum and format are left to the library there.
func (c *compiledCheck) onlyTyped(t jsonTypes) bool {
	return c == nil || (c.allows(t) && c.enum == nil && c.format == nil)
}

func (p *rawChecker) value(c *compiledCheck, depth int) bool {
	if c != nil && !c.exact {
		return false
	}
	p.skipSpace()
	if p.i >= len(p.data) {
		return false
	}
	switch ch := p.data[p.i]; {
	case ch == '{':
		return c.onlyTyped(typeObject) && p.object(c, depth+1)
	case ch == '[':
		return c.onlyTyped(typeArray) && p.array(c, depth+1)
	case ch == '"':
		s, _, ok := p.string()
		return ok && c.acceptsString(s)
	case ch == '-' || (ch >= '0' && ch <= '9'):
		lit, integral, ok := p.number()
		return ok && c.acceptsNumber(lit, integral)
	case ch == 't':
		return p.literal("true") && c.onlyTyped(typeBoolean)
	case ch == 'f':
		return p.literal("false") && c.onlyTyped(typeBoolean)
	case ch == 'n':
		return p.literal("null") && c.onlyTyped(typeNull)
	}
	return false
}

func (p *rawChecker) literal(text string) bool {
	if len(p.data)-p.i < len(text) || string(p.data[p.i:p.i+len(text)]) != text {
		return false
	}
	p.i += len(text)
	return true
}

func (p *rawChecker) object(c *compiledCheck, depth int) bool {
	if depth > maxDepth {
		return false
	}
	p.i++ // {
	var seen uint64
	p.skipSpace()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return c.objectComplete(seen)
	}
	for {
		p.skipSpace()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return false
		}
		key, plain, ok := p.string()
		if !ok || !plain {
			return false
		}
		p.skipSpace()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return false
		}
		p.i++
		var sub *compiledCheck // nil: any value
		if c != nil {
			s, known := c.props[key]
			if !known && !c.additional {
				return false
			}
			sub = s
			if bit, ok := c.propIndex[key]; ok {
				seen |= 1 << bit
			}
		}
		if !p.value(sub, depth) {
			return false
		}
		p.skipSpace()
		if p.i >= len(p.data) {
			return false
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return c.objectComplete(seen)
		default:
			return false
		}
	}
}

// objectComplete checks required and dependentRequired once an object's
// properties are known.
func (c *compiledCheck) objectComplete(seen uint64) bool {
	if c == nil {
		return true
	}
	if seen&c.required != c.required {
		return false
	}
	for _, d := range c.depends {
		if seen&d.if_ != 0 && seen&d.then != d.then {
			return false
		}
	}
	return true
}

func (p *rawChecker) array(c *compiledCheck, depth int) bool {
	if depth > maxDepth {
		return false
	}
	p.i++ // [
	var items *compiledCheck
	unique := false
	if c != nil {
		items, unique = c.items, c.unique
	}
	var firstSeen [16]string
	seen := firstSeen[:0] // the items so far, when they must be unique
	n := 0
	p.skipSpace()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return c.countAllowed(0)
	}
	for {
		p.skipSpace()
		if unique {
			// Items are compared as strings written without escapes:
			// anything else is left to the library's equality.
			if p.i >= len(p.data) || p.data[p.i] != '"' {
				return false
			}
			s, plain, ok := p.string()
			if !ok || !plain || !items.acceptsString(s) {
				return false
			}
			seen = append(seen, s)
		} else if !p.value(items, depth) {
			return false
		}
		n++
		p.skipSpace()
		if p.i >= len(p.data) {
			return false
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return c.countAllowed(n) && allDistinct(seen)
		default:
			return false
		}
	}
}

// countAllowed checks minItems and maxItems.
func (c *compiledCheck) countAllowed(n int) bool {
	return c == nil || ((c.minItems < 0 || n >= c.minItems) && (c.maxItems < 0 || n <= c.maxItems))
}

// allDistinct reports whether no string repeats: pairwise for a few, by
// sorting a copy for more.
func allDistinct(items []string) bool {
	if len(items) <= 16 {
		for i := range items {
			for j := i + 1; j < len(items); j++ {
				if items[i] == items[j] {
					return false
				}
			}
		}
		return true
	}
	sorted := slices.Clone(items)
	slices.Sort(sorted)
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return false
		}
	}
	return true
}

// string reads a string token at p.i. A plain string (no escapes, valid
// UTF-8) is returned as a view of the input, valid while the input is not
// modified; others are decoded as valueDecoder does, refusals included.
func (p *rawChecker) string() (s string, plain bool, ok bool) {
	start := p.i
	p.i++
	for p.i < len(p.data) {
		ch := p.data[p.i]
		switch {
		case ch == '"':
			p.i++
			raw := p.data[start+1 : p.i-1]
			if len(raw) == 0 {
				return "", true, true
			}
			return unsafe.String(&raw[0], len(raw)), true, true
		case ch == '\\':
			return p.slowString(start)
		case ch < 0x20:
			return "", false, false
		case ch < utf8.RuneSelf:
			p.i++
		default:
			r, size := utf8.DecodeRune(p.data[p.i:])
			if r == utf8.RuneError && size == 1 {
				return p.slowString(start)
			}
			p.i += size
		}
	}
	return "", false, false
}

// slowString decodes the string token at start with valueDecoder.
func (p *rawChecker) slowString(start int) (string, bool, bool) {
	d := valueDecoder{data: p.data, i: start}
	s, err := d.string()
	p.i = d.i
	return s, false, err == nil
}

// number reads a number token with valueDecoder's grammar and bounds. It
// returns the literal (a view of the input) and whether it is written as
// an integer.
func (p *rawChecker) number() (lit string, integral bool, ok bool) {
	d := valueDecoder{data: p.data, i: p.i}
	start := p.i
	if _, err := d.number(); err != nil {
		return "", false, false
	}
	p.i = d.i
	raw := p.data[start:p.i]
	integral = true
	for _, ch := range raw {
		if ch == '.' || ch == 'e' || ch == 'E' {
			integral = false
			break
		}
	}
	return unsafe.String(&raw[0], len(raw)), integral, true
}

func (c *compiledCheck) acceptsString(s string) bool {
	if c == nil {
		return true
	}
	if !c.exact || !c.allows(typeString) {
		return false
	}
	if c.enum != nil && !slices.Contains(c.enum, s) {
		return false
	}
	if c.minLen >= 0 || c.maxLen >= 0 {
		n := utf8.RuneCountInString(s)
		if (c.minLen >= 0 && n < c.minLen) || (c.maxLen >= 0 && n > c.maxLen) {
			return false
		}
	}
	if c.pattern != nil && !c.pattern.MatchString(s) {
		return false
	}
	return c.format == nil || c.format.Validate(s) == nil
}

// acceptsNumber checks a number literal. "integer" is only vouched for
// when the literal has no fraction or exponent (1.0 is left to the
// library).
func (c *compiledCheck) acceptsNumber(lit string, integral bool) bool {
	if c == nil {
		return true
	}
	if !c.exact || c.enum != nil || c.format != nil {
		return false
	}
	if c.types != 0 && c.types&typeNumber == 0 && (c.types&typeInteger == 0 || !integral) {
		return false
	}
	if len(c.bounds) > 0 {
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			return false
		}
		for _, b := range c.bounds {
			// Rounding to float64 is monotonic and the bound is a float64
			// exactly, so a strict float order is the exact order.
			var cmp int
			switch {
			case f < b.float:
				cmp = -1
			case f > b.float:
				cmp = 1
			default:
				x, ok := new(big.Rat).SetString(lit)
				if !ok {
					return false
				}
				cmp = x.Cmp(b.exact)
			}
			if (cmp < 0 && !b.below) || (cmp == 0 && !b.equal) || (cmp > 0 && !b.above) {
				return false
			}
		}
	}
	if c.fracDigits >= 0 && !multipleOfStep(lit, c.fracDigits, c.multipleOf) {
		return false
	}
	return true
}

// multipleOfStep reports whether lit is a multiple of step = 10^-k: a
// plain decimal has at most k significant fraction digits; a literal with
// an exponent is divided exactly.
func multipleOfStep(lit string, k int, step *big.Rat) bool {
	dot := -1
	for i := 0; i < len(lit); i++ {
		switch lit[i] {
		case 'e', 'E':
			x, ok := new(big.Rat).SetString(lit)
			return ok && x.Quo(x, step).IsInt()
		case '.':
			dot = i
		}
	}
	if dot < 0 {
		return true
	}
	end := len(lit)
	for end > dot+1 && lit[end-1] == '0' {
		end--
	}
	return end-dot-1 <= k
}

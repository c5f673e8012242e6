package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// ValidatePatch checks the fields one operation sets, before the op enters
// the outbox (tablet) or the store (server). Unknown field names, malformed
// JSON and values that break the field's own schema (type, enum, pattern,
// format, range, nested objects) are refused. It is partial: required
// fields are not enforced, and a cross-field rule runs only when every
// field it reads is in the patch. JSON null is not a value of any field.
//
// Checks run in a fixed order so the reported field is stable: unknown or
// malformed fields first, then values, each in field-name order, then
// cross-field rules. Returns nil or a *FieldError wrapping
// ErrUnknownCollection, ErrUnknownField or ErrInvalidValue.
func (r *Registry) ValidatePatch(collection string, fields map[string]json.RawMessage) error {
	c, err := r.lookup(collection)
	if err != nil {
		return err
	}
	if c.compiled.acceptsPatch(fields) {
		if values, ok := c.ruleValues(fields); ok {
			return c.checkRules(values, false)
		}
	}
	names, values, ferr := c.decode(fields)
	if ferr != nil {
		return ferr
	}
	for _, name := range names {
		if err := c.props[name].Validate(values[name]); err != nil {
			return r.fieldError(c, name, err)
		}
	}
	return c.checkRules(values, false)
}

// ValidateRecord checks a whole record state (e.g. after merging ops):
// everything ValidatePatch checks, plus required fields, the schema's
// conditional requirements (photos need household_id or case_id; duty_days
// approved_at needs approved_by) and every cross-field rule. Returns nil or
// a *FieldError wrapping ErrUnknownCollection, ErrUnknownField,
// ErrMissingField or ErrInvalidValue.
func (r *Registry) ValidateRecord(collection string, fields map[string]json.RawMessage) error {
	c, err := r.lookup(collection)
	if err != nil {
		return err
	}
	if c.compiled.acceptsRecord(fields) {
		if values, ok := c.ruleValues(fields); ok {
			return c.checkRules(values, true)
		}
	}
	names, values, ferr := c.decode(fields)
	if ferr != nil {
		return ferr
	}
	// One pass over the whole record on the happy path; only a refused
	// record pays for a second, field-by-field pass that finds the first
	// offending field in a stable order.
	if err := c.root.Validate(values); err != nil {
		for _, name := range names {
			if ferr := c.props[name].Validate(values[name]); ferr != nil {
				return r.fieldError(c, name, ferr)
			}
		}
		return r.recordError(c, err)
	}
	return c.checkRules(values, true)
}

// ruleValues decodes the fields the collection's cross-field rules read,
// those present, after the compiled checks accepted every field; nil for
// a collection without rules. ok is false if one does not decode (not
// expected once accepted): the caller then takes the full path.
func (c *collection) ruleValues(fields map[string]json.RawMessage) (values map[string]any, ok bool) {
	if len(c.rules) == 0 {
		return nil, true
	}
	values = make(map[string]any)
	for _, rule := range c.rules {
		for _, name := range rule.fields {
			raw, present := fields[name]
			if _, done := values[name]; !present || done {
				continue
			}
			v, err := decodeValue(raw)
			if err != nil {
				return nil, false
			}
			values[name] = v
		}
	}
	return values, true
}

// maxFieldBytes bounds one field's JSON before it is decoded. The validator
// checks every item of an array even after maxItems has failed, so without
// a bound the cost of refusing a value grows with its size. The largest
// real value, a signature's strokes, is well under 100 KiB.
const maxFieldBytes = 1 << 20

// decode turns every field into the value model the validator works on
// (json.Number for numbers), refusing unknown names and malformed JSON.
// It returns the field names sorted.
func (c *collection) decode(fields map[string]json.RawMessage) ([]string, map[string]any, *FieldError) {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	values := make(map[string]any, len(fields))
	for _, name := range names {
		if _, ok := c.props[name]; !ok {
			return nil, nil, &FieldError{Collection: c.name, Field: name, Reason: "unknown field", kind: ErrUnknownField}
		}
		if len(fields[name]) > maxFieldBytes {
			return nil, nil, &FieldError{Collection: c.name, Field: name, Reason: "value larger than 1 MiB", kind: ErrInvalidValue}
		}
		v, err := decodeValue(fields[name])
		if err != nil {
			reason := "malformed JSON"
			switch {
			case errors.Is(err, errNumberRange):
				reason = "number out of range"
			case errors.Is(err, errTooDeep):
				reason = "nested too deeply"
			case errors.Is(err, errNULString), errors.Is(err, errSurrogateString), errors.Is(err, errUTF8String):
				reason = err.Error()
			}
			return nil, nil, &FieldError{Collection: c.name, Field: name, Reason: reason, kind: ErrInvalidValue}
		}
		values[name] = v
	}
	return names, values, nil
}

// fieldError maps a validation error of one field's subschema to a
// *FieldError. Among several problems it reports the one at the smallest
// location inside the field, so the Reason is stable.
func (r *Registry) fieldError(c *collection, field string, err error) *FieldError {
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return &FieldError{Collection: c.name, Field: field, Reason: err.Error(), kind: ErrInvalidValue}
	}
	leaf := firstLeaf(verr)
	reason := r.reason(leaf.ErrorKind)
	if sub := subPath(leaf.InstanceLocation); sub != "" {
		reason = sub + ": " + reason
	}
	return &FieldError{Collection: c.name, Field: field, Reason: reason, kind: ErrInvalidValue}
}

// recordError maps an error of the whole-record schema once every field
// has passed on its own, which leaves the object-level keywords: required,
// dependentRequired and anyOf over required (photos). It reports the
// alphabetically first missing field.
func (r *Registry) recordError(c *collection, err error) *FieldError {
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return &FieldError{Collection: c.name, Reason: err.Error(), kind: ErrInvalidValue}
	}
	var best *FieldError
	consider := func(fe *FieldError) {
		if best == nil || fe.Field < best.Field {
			best = fe
		}
	}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			missing := slices.Sorted(slices.Values(k.Missing))
			consider(&FieldError{Collection: c.name, Field: missing[0], Reason: "required", kind: ErrMissingField})
			return
		case *kind.DependentRequired:
			missing := slices.Sorted(slices.Values(k.Missing))
			consider(&FieldError{Collection: c.name, Field: missing[0], Reason: "required when " + k.Prop + " is set", kind: ErrMissingField})
			return
		case *kind.AnyOf, *kind.OneOf:
			var alternatives []string
			for _, leaf := range leaves(e, nil) {
				if req, ok := leaf.ErrorKind.(*kind.Required); ok {
					alternatives = append(alternatives, req.Missing...)
				}
			}
			if len(alternatives) > 0 {
				slices.Sort(alternatives)
				alternatives = slices.Compact(alternatives)
				consider(&FieldError{Collection: c.name, Field: alternatives[0], Reason: "one of " + strings.Join(alternatives, ", ") + " is required", kind: ErrMissingField})
				return
			}
		}
		if len(e.Causes) == 0 {
			fe := &FieldError{Collection: c.name, Reason: r.reason(e.ErrorKind), kind: ErrInvalidValue}
			if len(e.InstanceLocation) > 0 {
				fe.Field = e.InstanceLocation[0]
			}
			consider(fe)
			return
		}
		for _, cause := range e.Causes {
			walk(cause)
		}
	}
	walk(verr)
	if best == nil { // not expected: every error tree has leaves
		return &FieldError{Collection: c.name, Reason: r.reason(verr.ErrorKind), kind: ErrInvalidValue}
	}
	return best
}

// firstLeaf returns the innermost error at the smallest instance location.
func firstLeaf(e *jsonschema.ValidationError) *jsonschema.ValidationError {
	all := leaves(e, nil)
	best := all[0]
	for _, l := range all[1:] {
		if slices.Compare(l.InstanceLocation, best.InstanceLocation) < 0 {
			best = l
		}
	}
	return best
}

func leaves(e *jsonschema.ValidationError, acc []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return append(acc, e)
	}
	for _, c := range e.Causes {
		acc = leaves(c, acc)
	}
	return acc
}

// subPath renders a location inside a field as "lat", "[2]" or
// "[0].date".
func subPath(loc []string) string {
	var b strings.Builder
	for _, tok := range loc {
		if isIndex(tok) {
			fmt.Fprintf(&b, "[%s]", tok)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func isIndex(tok string) bool {
	if tok == "" {
		return false
	}
	for _, ch := range tok {
		if ch < '0' || ch > '9' {
			return false
		}
	}
	return true
}

// reason words a validation failure without repeating the offending value:
// field values can be PII (ID numbers) and errors end up in logs.
func (r *Registry) reason(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("want %s, got %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		return "must be one of " + strings.Join(want, ", ")
	case *kind.Const:
		return fmt.Sprintf("must be %v", k.Want)
	case *kind.Pattern:
		return "does not match pattern " + k.Want
	case *kind.Format:
		return "not a valid " + k.Want
	case *kind.ContentEncoding:
		return "not valid " + k.Want
	case *kind.Required:
		return "missing " + strings.Join(k.Missing, ", ")
	case *kind.AdditionalProperties:
		return "unknown field " + strings.Join(k.Properties, ", ")
	case *kind.UniqueItems:
		return fmt.Sprintf("items %d and %d are equal", k.Duplicates[0], k.Duplicates[1])
	default:
		return k.LocalizedString(r.printer)
	}
}

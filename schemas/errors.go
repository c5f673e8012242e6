package schemas

import (
	"errors"
	"fmt"
)

// Sentinel errors say what kind of refusal a *FieldError is, so callers can
// branch with errors.Is without parsing Reason. Every refusal from this
// package is a *FieldError that wraps exactly one of them.
var (
	// ErrUnknownCollection: the collection has no schema. Field is "".
	ErrUnknownCollection = errors.New("unknown collection")
	// ErrUnknownField: the field is not in the collection's schema.
	ErrUnknownField = errors.New("unknown field")
	// ErrMissingField: a field required for a whole record is absent
	// (only ValidateRecord, and the schema's conditional requirements).
	ErrMissingField = errors.New("missing required field")
	// ErrInvalidValue: the field's value is malformed JSON, has the wrong
	// type, is outside its enum, pattern, format or range, or breaks a
	// cross-field rule.
	ErrInvalidValue = errors.New("invalid value")
)

// FieldError is the one error type this package returns for refused input.
// Field names the first offending JSON field, so a tablet can park the op
// and point the officer at the field to fix; Reason is short English text
// meant for logs and supervisors, never containing the offending value (an
// id_number must not leak into logs).
type FieldError struct {
	// Collection is the collection the fields were checked against.
	Collection string
	// Field is the top-level JSON field name; "" when the problem is the
	// collection itself or the record as a whole.
	Field string
	// Reason says what is wrong, e.g. "want string, got number".
	Reason string

	kind error // one of the Err* sentinels; nil on a FieldError made elsewhere
}

// Error formats the refusal as "collection.field: reason".
func (e *FieldError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.Collection, e.Reason)
	}
	return fmt.Sprintf("%s.%s: %s", e.Collection, e.Field, e.Reason)
}

// Unwrap returns the sentinel (ErrUnknownCollection, ErrUnknownField,
// ErrMissingField or ErrInvalidValue) that classifies the refusal.
func (e *FieldError) Unwrap() error { return e.kind }

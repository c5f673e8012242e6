package syncengine

import (
	"errors"
	"fmt"
	"time"
)

// Stable error codes. Clients branch on them; they never change meaning.
const (
	EINVALID      = "EINVALID"      // the input is malformed or breaks a rule; do not retry unchanged
	ENOTFOUND     = "ENOTFOUND"     // the thing asked for does not exist (or is outside the caller's scope)
	ECONFLICT     = "ECONFLICT"     // the request collides with current state
	EUNAUTHORIZED = "EUNAUTHORIZED" // no, expired or forged credentials: log in again
	EFORBIDDEN    = "EFORBIDDEN"    // authenticated, but not allowed (role or area scope)
	EREVOKED      = "EREVOKED"      // the device was revoked: the tablet must wipe its local data
	ETOOLARGE     = "ETOOLARGE"     // the body or file is larger than the configured limit
	ETRANSIENT    = "ETRANSIENT"    // a temporary failure: retry later with backoff
	EINTERNAL     = "EINTERNAL"     // a bug or an unexpected failure; details are logged, not shown
)

// Error is an error with a stable code and a message safe to show a user.
type Error struct {
	Code    string
	Message string
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of the first *Error in err's
// chain; internal errors get a generic message so details never leak.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// RetryAfterHeader carries, on an ETRANSIENT answer, the wait the server
// asks for in milliseconds; the standard Retry-After header beside it has
// the same wait rounded up to whole seconds, for other HTTP clients.
const RetryAfterHeader = "X-Ruhu-Retry-After-Ms"

// RetryAfterError is an ETRANSIENT refusal that says when to try again:
// the server's write queue is full, so it refused the request unread
// rather than letting every request wait longer.
type RetryAfterError struct {
	Err   *Error
	After time.Duration
}

// Error implements error.
func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%s (retry after %v)", e.Err.Error(), e.After)
}

// Unwrap returns the coded error, so ErrorCode sees ETRANSIENT.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns the wait a refusal asks for, and false when err
// names none.
func RetryAfter(err error) (time.Duration, bool) {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ra.After, true
	}
	return 0, false
}

package uploads

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// Error is an upload failure as the client sees it: the tus status code
// (460, 410, 412, 409, ...) together with the API's stable code and a safe
// message. The server's error handler answers with Status and the JSON
// body {"code","message"}; syncengine.ErrorCode finds the code through
// Unwrap.
type Error struct {
	Status int
	Err    *syncengine.Error
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Err.Error()) }

// Unwrap exposes the coded error.
func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus is the status the response must carry instead of the one
// the code maps to by default.
func (e *Error) HTTPStatus() int { return e.Status }

func fail(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Err: syncengine.Errorf(code, format, args...)}
}

func errInvalid(format string, args ...any) *Error {
	return fail(fiber.StatusBadRequest, syncengine.EINVALID, format, args...)
}

func errTransient(what string) *Error {
	return fail(fiber.StatusServiceUnavailable, syncengine.ETRANSIENT, "%s: blob store unavailable, retry later", what)
}

func errNotFound(format string, args ...any) *Error {
	return fail(fiber.StatusNotFound, syncengine.ENOTFOUND, format, args...)
}

func errForbidden(format string, args ...any) *Error {
	return fail(fiber.StatusForbidden, syncengine.EFORBIDDEN, format, args...)
}

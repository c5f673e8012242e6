package server

import (
	"net/url"

	"github.com/gofiber/fiber/v2"
)

// decodedParam returns the percent-decoded value of a route parameter. fiber
// matches routes on the raw path and hands parameters over still escaped,
// so an id holding a character reserved in URLs ('?', '#', '%', ':' …)
// arrives as its escape and is decoded here; a malformed escape is
// EINVALID.
func decodedParam(c *fiber.Ctx, name string) (string, error) {
	v, err := url.PathUnescape(c.Params(name))
	if err != nil {
		return "", errInvalid("path parameter %s: %v", name, err)
	}
	return v, nil
}

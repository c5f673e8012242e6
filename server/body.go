package server

import (
	"bytes"
	"compress/gzip"
	"errors"
	gojson "github.com/goccy/go-json"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// readBody returns the request body, gunzipped when the client says so,
// never more than the body limit after decompression (a gzip bomb is
// ETOOLARGE, not an out-of-memory crash). The bytes are a copy: fiber
// reuses its buffers after the handler returns.
func (s *Server) readBody(c *fiber.Ctx) ([]byte, error) {
	// c.Body() would gunzip without any bound; read the raw bytes and
	// decompress under the limit here.
	raw := c.Request().Body()
	enc := strings.ToLower(strings.TrimSpace(c.Get(fiber.HeaderContentEncoding)))
	switch enc {
	case "", "identity":
		return append([]byte(nil), raw...), nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, errInvalid("body is not valid gzip")
		}
		out, err := io.ReadAll(io.LimitReader(zr, int64(s.cfg.BodyLimit)+1))
		if err != nil {
			return nil, errInvalid("body is not valid gzip")
		}
		if len(out) > s.cfg.BodyLimit {
			return nil, syncengine.Errorf(syncengine.ETOOLARGE, "decompressed body exceeds %d bytes", s.cfg.BodyLimit)
		}
		return out, nil
	default:
		return nil, errInvalid("unsupported content encoding %q", enc)
	}
}

// decodeJSON decodes the body into v strictly: unknown fields and trailing
// data are refused, so a client bug shows at once instead of being ignored.
func (s *Server) decodeJSON(c *fiber.Ctx, v any) error {
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	return decodeJSONBody(body, v)
}

// decodeJSONBody is decodeJSON of a body already read (readBody).
func decodeJSONBody(body []byte, v any) error {
	dec := gojson.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *gojson.UnmarshalTypeError
		if errors.As(err, &te) {
			return errInvalid("field %s: expected %s", te.Field, te.Type)
		}
		return errInvalid("body is not valid JSON: %v", err)
	}
	if dec.More() {
		return errInvalid("body has data after the JSON value")
	}
	return nil
}

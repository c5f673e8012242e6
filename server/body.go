package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"

	gojson "github.com/goccy/go-json"
	"github.com/gofiber/fiber/v2"
	"github.com/klauspost/compress/gzip"

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
		return s.gunzipBody(raw, s.cfg.BodyLimit)
	default:
		return nil, errInvalid("unsupported content encoding %q", enc)
	}
}

// gunzipBody decompresses a gzip body of at most limit bytes. It uses
// klauspost/compress, which inflates a push body about twice as fast as
// compress/gzip, reuses readers (each carries a 32 KiB window and tables),
// and sizes the output from the gzip trailer (the length mod 2^32: only a
// hint, a wrong one costs a regrowth, and reading stops past limit), so a
// 1 MB push body is not copied through twenty regrowths.
func (s *Server) gunzipBody(raw []byte, limit int) ([]byte, error) {
	zr, _ := s.gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(raw))
	} else {
		err = zr.Reset(bytes.NewReader(raw))
	}
	if err != nil {
		return nil, errInvalid("body is not valid gzip")
	}
	defer s.gzipReaders.Put(zr)
	size := 512
	if len(raw) >= 4 {
		size = max(size, min(int(binary.LittleEndian.Uint32(raw[len(raw)-4:])), limit)+1)
	}
	out := make([]byte, 0, size)
	r := io.LimitReader(zr, int64(limit)+1)
	for {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		n, err := r.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errInvalid("body is not valid gzip")
		}
	}
	if len(out) > limit {
		return nil, syncengine.Errorf(syncengine.ETOOLARGE, "decompressed body exceeds %d bytes", limit)
	}
	return out, nil
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

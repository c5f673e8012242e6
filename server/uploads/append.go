package uploads

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/assets"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

const bodyKey = "uploads.body"

// bodyReader reads the request body as it arrives (the server streams
// request bodies) and remembers whether it reached the end and how it
// failed.
type bodyReader struct {
	r    io.Reader
	n    int64
	eof  bool
	rerr error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	// Sticky: the server's chunked body stream, read again after its end,
	// waits on the connection for bytes that never come until the read
	// timeout (minio-go reads past EOF when it stores a piece of unknown
	// size), so the end and a failure are answered from memory.
	if b.eof {
		return 0, io.EOF
	}
	if b.rerr != nil {
		return 0, b.rerr
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil && b.rerr == nil:
		b.rerr = err
	}
	return n, err
}

func requestBody(c *fiber.Ctx) *bodyReader {
	if b, ok := c.Locals(bodyKey).(*bodyReader); ok {
		return b
	}
	var r io.Reader
	if c.Request().IsBodyStream() {
		r = c.Context().RequestBodyStream()
	} else {
		r = bytes.NewReader(c.Request().Body())
	}
	b := &bodyReader{r: r}
	c.Locals(bodyKey, b)
	return b
}

// bodyConsumed reports whether nothing of the request body is left unread
// on the connection.
func bodyConsumed(c *fiber.Ctx) bool {
	if !c.Request().IsBodyStream() {
		return true
	}
	b, ok := c.Locals(bodyKey).(*bodyReader)
	if !ok {
		return false
	}
	if !b.eof && b.rerr == nil {
		// Read exactly the announced length but not the EOF yet.
		cl := c.Request().Header.ContentLength()
		return cl >= 0 && b.n == int64(cl)
	}
	return b.eof
}

func hasBody(c *fiber.Ctx) bool {
	cl := c.Request().Header.ContentLength()
	return cl > 0 || cl == -1
}

// appendChunk appends the request body to upload u at offset, records the
// new offset, and commits the blob when the last byte arrived. The caller
// holds u's lock. u.Offset is updated in place.
func (s *Service) appendChunk(c *fiber.Ctx, u *core.Upload, offset int64) (int64, error) {
	ctx := c.UserContext()
	staged, known, err := s.stagedOffset(ctx, u)
	if err != nil {
		return 0, err
	}
	if !known {
		return 0, errTransient("append")
	}
	if offset != staged {
		c.Set("Upload-Offset", fmt.Sprint(staged))
		return 0, fail(fiber.StatusConflict, syncengine.ECONFLICT, "Upload-Offset %d does not match the upload's offset %d", offset, staged)
	}
	remaining := u.Length - staged
	cl := int64(c.Request().Header.ContentLength())
	if cl > remaining {
		return 0, fail(fiber.StatusRequestEntityTooLarge, syncengine.ETOOLARGE, "chunk of %d bytes runs past Upload-Length (%d bytes left)", cl, remaining)
	}
	body := requestBody(c)
	var (
		newSize   int64
		appendErr error
	)
	if h := c.Get("Upload-Checksum"); h != "" {
		want, err := ParseChecksum(h)
		if err != nil {
			return 0, errInvalid("Upload-Checksum: %v", err)
		}
		limit := min(remaining, s.opts.MaxChecksumChunk)
		chunk, err := io.ReadAll(io.LimitReader(body, limit+1))
		if err != nil {
			return 0, fail(fiber.StatusServiceUnavailable, syncengine.ETRANSIENT, "chunk ended early; nothing kept (a checksummed chunk is all or nothing): resume from Upload-Offset %d", staged)
		}
		if int64(len(chunk)) > limit {
			return 0, fail(fiber.StatusRequestEntityTooLarge, syncengine.ETOOLARGE, "a checksummed chunk may hold at most %d bytes here", limit)
		}
		if sum := sha256.Sum256(chunk); !bytes.Equal(sum[:], want) {
			return 0, fail(StatusChecksumMismatch, syncengine.EINVALID, "Upload-Checksum does not match the chunk; resend it")
		}
		newSize, appendErr = s.blobs.AppendUpload(ctx, u.ID, staged, bytes.NewReader(chunk), int64(len(chunk)))
	} else {
		size := cl
		if size < 0 {
			size = -1
		}
		newSize, appendErr = s.blobs.AppendUpload(ctx, u.ID, staged, io.LimitReader(body, remaining), size)
		if appendErr == nil && cl < 0 && !body.eof {
			// Chunked body: anything past Upload-Length is refused.
			var one [1]byte
			if n, _ := body.Read(one[:]); n > 0 {
				appendErr = fmt.Errorf("chunk runs past Upload-Length: %w", assets.ErrSizeMismatch)
			}
		}
	}
	if newSize < staged || newSize > u.Length {
		newSize = staged // a store must never report this; trust nothing then
	}
	if newSize != u.Offset {
		u.Offset = newSize
		u.ExpiresAt = s.opts.Now().UTC().Add(s.opts.Expiry)
		if err := s.update(func(tx Tx) error { return tx.PutUpload(u) }); err != nil {
			return 0, fmt.Errorf("record offset of %s: %w", u.ID, err)
		}
	}
	c.Set("Upload-Offset", fmt.Sprint(newSize))
	if appendErr != nil {
		switch {
		case body.rerr != nil || (errors.Is(appendErr, assets.ErrSizeMismatch) && cl >= 0):
			// The connection dropped or stalled: what arrived is kept.
			return newSize, fail(fiber.StatusServiceUnavailable, syncengine.ETRANSIENT, "chunk ended early; %d bytes kept: resume from Upload-Offset %d", newSize-staged, newSize)
		case errors.Is(appendErr, assets.ErrSizeMismatch):
			return newSize, fail(fiber.StatusRequestEntityTooLarge, syncengine.ETOOLARGE, "chunk runs past Upload-Length")
		case errors.Is(appendErr, assets.ErrOffsetMismatch):
			return newSize, fail(fiber.StatusConflict, syncengine.ECONFLICT, "upload offset moved; HEAD and resume")
		case assets.IsTransient(appendErr):
			return newSize, errTransient("append")
		default:
			return newSize, fmt.Errorf("append to upload %s: %w", u.ID, appendErr)
		}
	}
	if newSize == u.Length {
		if err := s.finish(ctx, u); err != nil {
			return newSize, err
		}
	}
	return newSize, nil
}

// finish commits the staged bytes of a fully received upload under the
// blob's content address, after the store checked their sha256, and
// records the blob. On a hash mismatch nothing becomes visible and the
// upload is removed (460).
func (s *Service) finish(ctx context.Context, u *core.Upload) error {
	key := assets.OriginalKey(u.SHA256)
	size, err := s.blobs.CommitUpload(ctx, u.ID, key, u.SHA256)
	if err != nil {
		switch {
		case errors.Is(err, assets.ErrHashMismatch):
			if aerr := s.blobs.AbortUpload(ctx, u.ID); aerr != nil {
				s.log.Warn("abort mismatched upload", "upload", u.ID, "err", aerr)
			}
			if derr := s.update(func(tx Tx) error { return tx.DeleteUpload(u.ID) }); derr != nil {
				return fmt.Errorf("remove mismatched upload %s: %w", u.ID, derr)
			}
			return fail(StatusChecksumMismatch, syncengine.EINVALID, "the file does not hash to its sha256 %s; nothing was stored", u.SHA256)
		case size == u.Length:
			// Committed, but the store reported trouble afterwards (staging
			// not cleaned up): the object is in place.
			s.log.Warn("commit upload", "upload", u.ID, "err", err)
		case assets.IsTransient(err):
			return errTransient("commit")
		default:
			return fmt.Errorf("commit upload %s: %w", u.ID, err)
		}
	}
	now := s.opts.Now().UTC()
	var enqueue bool
	err = s.update(func(tx Tx) error {
		b, err := tx.Blob(u.SHA256)
		if err != nil {
			return err
		}
		if b == nil {
			b = &core.Blob{SHA256: u.SHA256, Size: u.Length, Kind: u.Kind, Status: core.BlobProcessing, CreatedAt: now}
		}
		b.AddRef(s.ref(u, now))
		enqueue = b.Status == core.BlobProcessing
		if err := tx.PutBlob(b); err != nil {
			return err
		}
		done := *u
		done.Done, done.Offset = true, u.Length
		return tx.PutUpload(&done)
	})
	if err != nil {
		return fmt.Errorf("record blob %s: %w", u.SHA256, err)
	}
	u.Done, u.Offset = true, u.Length
	if enqueue {
		s.queue.push(u.SHA256)
	}
	return nil
}

package assets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// PutVerified stores the bytes of r under key only if they hash to
// wantSHA256 (lowercase hex). size is the announced length, or < 0 when
// unknown. On a mismatch it returns ErrHashMismatch and nothing becomes
// visible under key.
//
// It streams: the bytes go straight to Put through a reader that withholds
// the final byte until it has seen the end of r and checked the digest, so a
// mismatch surfaces as a reader failure before the object is complete, and
// Store's atomicity contract discards it.
func PutVerified(ctx context.Context, s Store, key string, r io.Reader, size int64, wantSHA256 string) error {
	want, err := hex.DecodeString(wantSHA256)
	if err != nil || !ValidSHA256(wantSHA256) {
		return fmt.Errorf("put %s: want sha256 %q: %w", key, wantSHA256, ErrHashMismatch)
	}
	if size >= 0 {
		r = io.LimitReader(r, size)
	}
	vr := &verifyingReader{r: r, h: sha256.New(), want: want, buf: make([]byte, 32<<10)}
	if err := s.Put(ctx, key, vr, size); err != nil {
		if vr.mismatch {
			// The store may have wrapped our error or reported a short read;
			// the caller branches on the hash, which is what went wrong.
			return fmt.Errorf("put %s: %w", key, ErrHashMismatch)
		}
		return err
	}
	if !vr.verified {
		// Put returned without draining the reader (a size it trusted);
		// treat as a contract breach by the store rather than trust the bytes.
		return fmt.Errorf("put %s: store stopped reading before the end: %w", key, ErrSizeMismatch)
	}
	return nil
}

// verifyingReader passes bytes through while hashing them, but always keeps
// the last byte seen back until the source reports EOF and the digest
// matches. A consumer therefore can never hold the complete content of a
// source whose digest is wrong.
type verifyingReader struct {
	r        io.Reader
	h        hash.Hash
	want     []byte
	buf      []byte
	pending  []byte // bytes read but not yet delivered; its last byte is withheld until verified
	verified bool
	mismatch bool
	err      error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		deliverable := len(v.pending)
		if !v.verified {
			deliverable-- // keep the last byte back
		}
		if deliverable > 0 {
			n := copy(p, v.pending[:deliverable])
			v.pending = v.pending[n:]
			return n, nil
		}
		if v.verified {
			return 0, io.EOF
		}
		if v.err != nil {
			return 0, v.err
		}
		// Refill: keep the withheld byte (if any) at the front.
		held := copy(v.buf, v.pending)
		n, err := v.r.Read(v.buf[held:])
		v.h.Write(v.buf[held : held+n])
		v.pending = v.buf[:held+n]
		switch {
		case err == io.EOF:
			if !bytes.Equal(v.h.Sum(nil), v.want) {
				v.mismatch = true
				v.pending = nil
				v.err = ErrHashMismatch
				continue
			}
			v.verified = true
		case err != nil:
			v.pending = nil
			v.err = err
		}
	}
}

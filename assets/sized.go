package assets

import (
	"fmt"
	"io"
)

// ExactReader enforces Put's size contract for Store implementations: it
// yields the bytes of r and fails with ErrSizeMismatch if r ends before size
// bytes or holds more than size. Both checks happen before the final byte is
// handed out, so a consumer that stops reading after exactly size bytes (as
// S3 clients do) still never sees a complete object of the wrong length.
// A size < 0 means unknown: r is returned unchanged.
func ExactReader(r io.Reader, size int64) io.Reader {
	if size < 0 {
		return r
	}
	return &exactReader{r: r, remaining: size}
}

type exactReader struct {
	r         io.Reader
	remaining int64
	held      []byte // the final bytes, held until the end of r is confirmed
	done      bool
	err       error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if e.done {
		n := copy(p, e.held)
		e.held = e.held[n:]
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
	if int64(len(p)) > e.remaining {
		p = p[:e.remaining]
	}
	if len(p) == 0 {
		return 0, e.confirmEnd(nil)
	}
	n, err := e.r.Read(p)
	e.remaining -= int64(n)
	if err == io.EOF && e.remaining > 0 {
		e.err = fmt.Errorf("reader ended %d bytes early: %w", e.remaining, ErrSizeMismatch)
		return 0, e.err
	}
	if err != nil && err != io.EOF {
		e.err = err
		return n, err
	}
	if e.remaining == 0 {
		// Hold this last piece back until we know nothing follows it.
		if err := e.confirmEnd(p[:n]); err != nil {
			return 0, err
		}
		return e.Read(p)
	}
	return n, nil
}

// confirmEnd checks that r has nothing left, then releases last.
func (e *exactReader) confirmEnd(last []byte) error {
	var one [1]byte
	for tries := 0; ; tries++ {
		if tries == 100 {
			e.err = io.ErrNoProgress
			return e.err
		}
		n, err := e.r.Read(one[:])
		if n > 0 {
			e.err = fmt.Errorf("reader holds more than the announced size: %w", ErrSizeMismatch)
			return e.err
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			e.err = err
			return err
		}
	}
	e.held = append([]byte(nil), last...)
	e.done = true
	return nil
}

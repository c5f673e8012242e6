package assets

import (
	"context"
	"errors"
	"io"
)

// Errors callers branch on. Backends wrap them with context; test with errors.Is.
var (
	// ErrNotFound means the object (or upload) does not exist.
	ErrNotFound = errors.New("assets: not found")
	// ErrHashMismatch means the bytes did not hash to the sha256 the caller
	// promised; nothing was made visible.
	ErrHashMismatch = errors.New("assets: sha256 mismatch")
	// ErrSizeMismatch means the reader yielded a different number of bytes
	// than the size the caller announced; nothing was made visible.
	ErrSizeMismatch = errors.New("assets: size mismatch")
	// ErrOffsetMismatch means an upload chunk was offered at an offset other
	// than the upload's current size (tus answers 409 Conflict).
	ErrOffsetMismatch = errors.New("assets: upload offset mismatch")
	// ErrInvalidKey means a key or upload id does not follow the key grammar
	// (see ValidKey).
	ErrInvalidKey = errors.New("assets: invalid key")
	// ErrUnavailable marks a failure of the backend itself (network down,
	// server stopped, 5xx, throttling): the same call may succeed later, so
	// upload queues retry it instead of parking the item.
	ErrUnavailable = errors.New("assets: blob store unavailable")
)

// IsTransient reports whether err is worth retrying later unchanged, that
// is whether it wraps ErrUnavailable. Context cancellation is not transient:
// the caller gave up.
func IsTransient(err error) bool {
	return errors.Is(err, ErrUnavailable)
}

// Store keeps immutable blobs by key and stages resumable uploads.
//
// Objects are written whole: a reader never sees a partial object, and a
// failed or cancelled Put leaves the previous state (absent or the previous
// object) untouched. Keys follow ValidKey; blobs are content addressed (see
// OriginalKey), so writing the same key twice with the same bytes is a
// harmless no-op in effect.
//
// Uploads are staged under an upload id chosen by the caller (the tus upload
// id) and appended chunk by chunk; CommitUpload moves the staged bytes to
// their final key only if they hash to the promised sha256. A caller must not
// append to the same upload id from two goroutines at once (tus forbids it;
// the server serialises per upload id).
type Store interface {
	// Put stores exactly size bytes read from r under key, replacing any
	// object already there. size < 0 means unknown (read to EOF). Returns
	// ErrSizeMismatch if r yields another count, ErrInvalidKey, ErrUnavailable.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens the object under key and returns its size. The caller closes
	// the reader. Returns ErrNotFound, ErrInvalidKey, ErrUnavailable.
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// Stat returns the size of the object under key. Returns ErrNotFound,
	// ErrInvalidKey, ErrUnavailable.
	Stat(ctx context.Context, key string) (int64, error)
	// Delete removes the object under key. Deleting an absent object is not
	// an error, so retries are safe.
	Delete(ctx context.Context, key string) error

	// AppendUpload appends the bytes of r (size bytes, or to EOF when
	// size < 0) to upload id, which must currently hold exactly offset bytes;
	// otherwise it returns ErrOffsetMismatch and appends nothing. It returns
	// the upload's size afterwards. When r fails midway the returned size
	// tells how much was kept (possibly less than was read), together with
	// the error; the client resumes from there.
	AppendUpload(ctx context.Context, id string, offset int64, r io.Reader, size int64) (int64, error)
	// UploadSize returns how many bytes upload id holds. An upload never
	// appended to holds 0 bytes: it is not an error.
	UploadSize(ctx context.Context, id string) (int64, error)
	// CommitUpload hashes the staged bytes of upload id and, if they match
	// wantSHA256 (lowercase hex), stores them under key and discards the
	// staging; it returns the committed size. On ErrHashMismatch nothing is
	// stored and the staging is kept so the caller can inspect or abort it.
	CommitUpload(ctx context.Context, id, key, wantSHA256 string) (int64, error)
	// AbortUpload discards the staged bytes of upload id. Aborting an
	// unknown upload is not an error.
	AbortUpload(ctx context.Context, id string) error
}

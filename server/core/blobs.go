package core

import (
	"strings"
	"time"
)

// BlobStatus is where a blob is in the processing pipeline.
type BlobStatus string

// Blob statuses. A blob record exists only once its bytes were verified
// against their sha256 and committed to the blob store.
const (
	// BlobProcessing: verified and stored; preview, thumbnail, EXIF and
	// perceptual hash are not there yet.
	BlobProcessing BlobStatus = "processing"
	// BlobReady: processed; every fact below is filled in.
	BlobReady BlobStatus = "ready"
	// BlobFailed: verified and stored, but the image could not be used
	// (Reason says why: not JPEG/PNG, too many pixels, corrupt).
	BlobFailed BlobStatus = "failed"
)

// BlobRef is one record a blob was uploaded for. A blob is visible to a
// user whose scope holds the area of any of its refs.
type BlobRef struct {
	Collection string    `json:"collection"`
	RecordID   string    `json:"record_id"`
	Area       string    `json:"area"`
	UploadedBy string    `json:"uploaded_by"`
	UploadedAt time.Time `json:"uploaded_at"`
}

// GPS is a WGS-84 position in degrees, as read from EXIF.
type GPS struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Blob is what the server knows about one verified blob, keyed by the
// sha256 of its bytes: the facts the evidence checks (completeness,
// duplicates, time and place) are built on.
type Blob struct {
	SHA256 string     `json:"sha256"`
	Size   int64      `json:"size"`
	Kind   string     `json:"kind"`
	Status BlobStatus `json:"status"`
	// Reason explains a failed status.
	Reason string `json:"reason,omitempty"`
	// Type is the sniffed media type (image/jpeg, image/png), never the
	// client's claim.
	Type string `json:"type,omitempty"`
	// Width and Height are as displayed (after EXIF orientation).
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	// TakenAt is the EXIF capture time; nil when the photo has none.
	TakenAt *time.Time `json:"taken_at,omitempty"`
	// GPS is the EXIF position; nil when the photo has none.
	GPS *GPS `json:"gps,omitempty"`
	// GPSTime is the satellite time of the fix, nil when absent.
	GPSTime *time.Time `json:"gps_time,omitempty"`
	// PHash is the 64-bit perceptual hash; HasPHash is false until ready.
	PHash    uint64 `json:"phash,omitempty"`
	HasPHash bool   `json:"has_phash,omitempty"`
	// HasPreview and HasThumb tell whether the derived images are stored.
	HasPreview bool `json:"has_preview,omitempty"`
	HasThumb   bool `json:"has_thumb,omitempty"`
	// Attempts counts processing runs that failed transiently.
	Attempts    int        `json:"attempts,omitempty"`
	Refs        []BlobRef  `json:"refs"`
	CreatedAt   time.Time  `json:"created_at"`
	ProcessedAt *time.Time `json:"processed_at,omitempty"`
}

// UploadedBy returns the user of the first upload of the blob.
func (b *Blob) UploadedBy() string {
	if len(b.Refs) == 0 {
		return ""
	}
	return b.Refs[0].UploadedBy
}

// VisibleTo reports whether a user with these area scopes may see the
// blob: the area of any record it was uploaded for is in scope.
func (b *Blob) VisibleTo(scopes []string) bool {
	for _, r := range b.Refs {
		for _, p := range scopes {
			if strings.HasPrefix(r.Area, p) {
				return true
			}
		}
	}
	return false
}

// AddRef records that the blob was uploaded for ref's record, once per
// record; it reports whether ref was new.
func (b *Blob) AddRef(ref BlobRef) bool {
	for _, r := range b.Refs {
		if r.Collection == ref.Collection && r.RecordID == ref.RecordID && r.Area == ref.Area {
			return false
		}
	}
	b.Refs = append(b.Refs, ref)
	return true
}

// Upload is the server's memory of one resumable (tus) upload: who started
// it, for which record, how long it is and how far it got. It lives in
// the store so an upload survives a server restart; the bytes themselves are
// staged in the blob store under the upload's id.
type Upload struct {
	ID    string `json:"id"`
	Owner string `json:"owner"`
	// Length is the announced size in bytes (tus Upload-Length).
	Length int64 `json:"length"`
	// Offset is the staged size last seen by the server. The blob store is
	// the authority; this copy answers HEAD while the store is down.
	Offset int64 `json:"offset"`
	// SHA256 is the lowercase hex digest the whole file must have.
	SHA256 string `json:"sha256"`
	// Kind is "photo" or "signature".
	Kind string `json:"kind"`
	// Collection, RecordID and Area name the record that cites the blob.
	Collection string    `json:"collection"`
	RecordID   string    `json:"record_id"`
	Area       string    `json:"area"`
	CreatedAt  time.Time `json:"created_at"`
	// ExpiresAt is when an unfinished upload is given up and its staging
	// removed; every accepted chunk pushes it back.
	ExpiresAt time.Time `json:"expires_at"`
	// Done is set once the blob is committed (or was already there): the
	// upload then reports Offset == Length until it expires.
	Done bool `json:"done,omitempty"`
}

// WebSession is one signed-in browser of the web console. The cookie holds
// a random token; the store keeps only its hash (Key).
type WebSession struct {
	// Key is the hex sha256 of the cookie token.
	Key      string `json:"key"`
	Username string `json:"username"`
	// CSRF is the token every state-changing form of this session carries.
	CSRF      string    `json:"csrf"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// BlobTx is the part of a transaction that keeps the facts of verified
// evidence blobs (package server/uploads writes them, the evidence and
// report readers read them).
type BlobTx interface {
	// Blob returns the facts of a verified blob, or nil when no blob with
	// that sha256 was ever committed.
	Blob(sha string) (*Blob, error)
	// PutBlob creates or replaces the facts of a blob.
	PutBlob(b *Blob) error
	// Blobs calls fn for every blob in sha256 order until fn returns false.
	Blobs(fn func(*Blob) bool) error
}

// UploadTx is the part of a transaction that keeps the state of
// resumable uploads, so an upload begun on one server is finished on
// another or after a restart.
type UploadTx interface {
	// Upload returns an upload, or nil when absent.
	Upload(id string) (*Upload, error)
	// PutUpload creates or replaces an upload.
	PutUpload(u *Upload) error
	// DeleteUpload forgets an upload; deleting an absent one is not an
	// error.
	DeleteUpload(id string) error
	// Uploads calls fn for every upload in id order until fn returns false.
	Uploads(fn func(*Upload) bool) error
}

// WebSessionTx is the part of a transaction that keeps the web console's
// browser sessions.
type WebSessionTx interface {
	// WebSession returns the session stored under key, or nil (expired
	// ones included: the caller judges expiry by its clock).
	WebSession(key string) (*WebSession, error)
	// PutWebSession creates or replaces a session.
	PutWebSession(s *WebSession) error
	// DeleteWebSession removes a session; removing an absent one is no
	// error.
	DeleteWebSession(key string) error
	// DeleteExpiredWebSessions removes every session that expired before
	// now and returns how many it removed.
	DeleteExpiredWebSessions(now time.Time) (int, error)
}

// BlobQueue is the photo processing queue of a store several servers
// share: a blob in processing is worked on only by the server holding its
// claim, and a claim whose lease ran out (its server died or hangs) is
// taken by another. Leases are timed by the store's clock, so the servers'
// clocks need not agree. server/pgstore implements it; a store only one
// process opens (bbolt) needs no claims.
type BlobQueue interface {
	// ClaimBlob claims a blob in processing for owner for lease, unless
	// another owner holds an unexpired claim on it or it is locked by a
	// transaction in flight; it reports whether owner holds it now. A
	// claim owner already holds is renewed.
	ClaimBlob(owner, sha string, lease time.Duration) (bool, error)
	// ClaimBlobs claims up to limit blobs in processing that no unexpired
	// claim holds, oldest first, skipping those locked by a transaction in
	// flight, and returns their sha256s.
	ClaimBlobs(owner string, limit int, lease time.Duration) ([]string, error)
	// RenewBlobClaim extends owner's claim on a blob still in processing
	// by lease from now; false when owner no longer holds it.
	RenewBlobClaim(owner, sha string, lease time.Duration) (bool, error)
}

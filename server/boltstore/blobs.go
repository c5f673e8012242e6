package boltstore

import (
	"encoding/json"
	"fmt"
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

// Blob returns the facts of a verified blob, or nil when no blob with
// that sha256 was ever committed. A non-nil result means the bytes were
// verified against sha when they were stored.
func (t *Tx) Blob(sha string) (*Blob, error) {
	v := t.tx.Bucket(bucketBlobs).Get([]byte(sha))
	if v == nil {
		return nil, nil
	}
	var b Blob
	if err := json.Unmarshal(v, &b); err != nil {
		return nil, fmt.Errorf("decode blob %s: %w", sha, err)
	}
	return &b, nil
}

// PutBlob creates or replaces the facts of a blob.
func (t *Tx) PutBlob(b *Blob) error {
	buf, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode blob %s: %w", b.SHA256, err)
	}
	return t.tx.Bucket(bucketBlobs).Put([]byte(b.SHA256), buf)
}

// Blobs calls fn for every blob in sha256 order until fn returns false.
func (t *Tx) Blobs(fn func(*Blob) bool) error {
	c := t.tx.Bucket(bucketBlobs).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var b Blob
		if err := json.Unmarshal(v, &b); err != nil {
			return fmt.Errorf("decode blob %s: %w", k, err)
		}
		if !fn(&b) {
			return nil
		}
	}
	return nil
}

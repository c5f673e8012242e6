package uploads

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/assets"
	"github.com/ruhu-dev/ruhu/server/core"
)

// visibleBlob loads the facts of the blob named in the path if the caller
// may see it (an area it was uploaded for is in scope); otherwise 404, so
// blobs outside one's scope cannot be probed.
func (s *Service) visibleBlob(c *fiber.Ctx) (*core.Blob, Caller, error) {
	who, err := s.caller(c)
	if err != nil {
		return nil, who, err
	}
	sha := c.Params("sha")
	if !assets.ValidSHA256(sha) {
		return nil, who, errInvalid("a blob is named by its lowercase hex sha256")
	}
	var b *core.Blob
	if err := s.view(func(tx Tx) (err error) { b, err = tx.Blob(sha); return err }); err != nil {
		return nil, who, fmt.Errorf("load blob %s: %w", sha, err)
	}
	if b == nil || !b.VisibleTo(who.Scopes) {
		return nil, who, errNotFound("no blob %s in your scope", sha)
	}
	return b, who, nil
}

// HandleBlob serves a blob's bytes: ?size=original (default), preview or
// thumb. The ETag is the sha256 (content never changes under a name).
func (s *Service) HandleBlob(c *fiber.Ctx) error {
	b, _, err := s.visibleBlob(c)
	if err != nil {
		return err
	}
	var key, ctype string
	switch size := c.Query("size", "original"); size {
	case "original":
		key, ctype = assets.OriginalKey(b.SHA256), b.Type
		if ctype == "" {
			ctype = "application/octet-stream"
		}
	case "preview", "thumb":
		if (size == "preview" && !b.HasPreview) || (size == "thumb" && !b.HasThumb) {
			return errNotFound("blob %s has no %s (status %s)", b.SHA256, size, b.Status)
		}
		key, ctype = assets.ThumbKey(b.SHA256), "image/jpeg"
		if size == "preview" {
			key = assets.PreviewKey(b.SHA256)
		}
	default:
		return errInvalid("size must be original, preview or thumb")
	}
	etag := `"` + b.SHA256 + `"`
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderCacheControl, "private, max-age=31536000, immutable")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagMatches(inm, etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	rc, n, err := s.blobs.Get(c.UserContext(), key)
	if err != nil {
		switch {
		case errors.Is(err, assets.ErrNotFound):
			return errNotFound("blob %s is recorded but its bytes are missing", b.SHA256)
		case assets.IsTransient(err):
			return errTransient("read blob")
		default:
			return fmt.Errorf("read blob %s: %w", key, err)
		}
	}
	c.Set(fiber.HeaderContentType, ctype)
	return c.SendStream(rc, int(n))
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// BlobInfo is the JSON view of a blob's facts. Refs lists only records in
// the caller's scope; RefCount counts them all (a photo cited by a
// household elsewhere is a finding, even when that household is not
// yours to see).
type BlobInfo struct {
	SHA256     string         `json:"sha256"`
	Size       int64          `json:"size"`
	Kind       string         `json:"kind"`
	Status     string         `json:"status"`
	Reason     string         `json:"reason,omitempty"`
	Type       string         `json:"type,omitempty"`
	Width      int            `json:"width,omitempty"`
	Height     int            `json:"height,omitempty"`
	TakenAt    *time.Time     `json:"taken_at,omitempty"`
	GPS        *core.GPS      `json:"gps,omitempty"`
	GPSTime    *time.Time     `json:"gps_time,omitempty"`
	PHash      string         `json:"phash,omitempty"`
	UploadedBy string         `json:"uploaded_by"`
	Refs       []core.BlobRef `json:"refs"`
	RefCount   int            `json:"ref_count"`
	CreatedAt  time.Time      `json:"created_at"`
}

// HandleBlobInfo answers a blob's facts as JSON.
func (s *Service) HandleBlobInfo(c *fiber.Ctx) error {
	b, who, err := s.visibleBlob(c)
	if err != nil {
		return err
	}
	info := BlobInfo{SHA256: b.SHA256, Size: b.Size, Kind: b.Kind, Status: string(b.Status), Reason: b.Reason, Type: b.Type,
		Width: b.Width, Height: b.Height, TakenAt: b.TakenAt, GPS: b.GPS, GPSTime: b.GPSTime,
		UploadedBy: b.UploadedBy(), RefCount: len(b.Refs), CreatedAt: b.CreatedAt, Refs: []core.BlobRef{}}
	if b.HasPHash {
		info.PHash = fmt.Sprintf("%016x", b.PHash)
	}
	for _, r := range b.Refs {
		for _, p := range who.Scopes {
			if strings.HasPrefix(r.Area, p) {
				info.Refs = append(info.Refs, r)
				break
			}
		}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(info)
}

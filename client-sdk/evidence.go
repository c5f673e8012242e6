package client

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/assets/photo"
	"github.com/ruhu-dev/ruhu/assets/signature"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Collections the evidence calls write or read.
const (
	CollectionPhotos       = collection.Photos
	CollectionSignatures   = collection.Signatures
	CollectionHousingCases = collection.HousingCases
)

// Limits of a signature's strokes (signatures.v1.json).
const (
	maxStrokes         = 200
	maxPointsPerStroke = 1000
)

// GPS is a position fix: WGS-84 degrees and the reported accuracy.
type GPS struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
	// AccuracyM is the accuracy in metres; 0 when unknown (left out).
	AccuracyM float64 `json:"accuracy_m,omitempty"`
}

// PhotoAttachment is a photo taken as evidence of a household or a housing
// renovation case.
type PhotoAttachment struct {
	// HouseholdID or CaseID (a housing_cases record) names what the photo
	// shows; at least one is required.
	HouseholdID, CaseID string
	// Area is the area code of the photos record. "": the area of the
	// household (or case) record on this tablet.
	Area string
	// Stage is before, during or after (改造前, 施工中, 竣工后).
	Stage string
	// Original is the photo as the camera wrote it (JPEG or PNG).
	Original []byte
	// CapturedAt is when the photo was taken. Zero: the EXIF capture time,
	// else the tablet's Now.
	CapturedAt time.Time
	// GPS is the fix at capture. Nil: the EXIF GPS position, if any.
	GPS *GPS
	// Note is free text (optional).
	Note string
	// Evidence is the evidence copy photo.CompressForEvidence made of
	// Original earlier — the field app makes it when a photo joins a
	// draft, so that saving the visit does not wait for two decodes and
	// encodes. Nil: it is made here.
	Evidence []byte
}

// AttachPhoto keeps a photo as evidence: it stores the original bytes and
// a compressed evidence copy (≤ photo.EvidenceSide px JPEG, photo.CompressForEvidence)
// in the evidence folder beside the tablet file, writes a photos record
// citing the evidence copy's sha256 in blob_sha256, and queues the
// evidence copy and the original for upload — record and queue in one
// transaction. The photos schema has no field for the original's hash: the
// original is uploaded under the same photos record (kind photo), which is
// how the server links the two. When the evidence copy would not be
// smaller than the original, the original serves as both and one upload is
// queued. It returns the new photos record id; the record syncs with the
// next Sync, the files with the next Upload.
//
// Codes: EINVALID (not a JPEG or PNG, too many pixels, corrupt, missing
// household/case or stage, or the Validator refused the record),
// ENOTFOUND (Area "" and the household or case is not on this tablet),
// EUNAUTHORIZED (not enrolled), EREVOKED.
func (c *Client) AttachPhoto(ctx context.Context, p PhotoAttachment) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if p.HouseholdID == "" && p.CaseID == "" {
		return "", syncengine.Errorf(syncengine.EINVALID, "照片需要指明农户或危房改造项目")
	}
	if p.Stage == "" {
		return "", syncengine.Errorf(syncengine.EINVALID, "照片需要指明阶段（before/during/after）")
	}
	format, cfg, err := photo.Check(p.Original, photo.Options{})
	if err != nil {
		return "", syncengine.Errorf(syncengine.EINVALID, "不是可用的照片：%v", err)
	}
	evidence := p.Evidence
	if evidence == nil {
		if evidence, err = photo.CompressForEvidence(p.Original, 0, 0); err != nil {
			return "", syncengine.Errorf(syncengine.EINVALID, "无法压缩照片：%v", err)
		}
	}
	sameAsOriginal := format == photo.JPEG && max(cfg.Width, cfg.Height) <= photo.EvidenceSide && len(evidence) >= len(p.Original)
	if sameAsOriginal {
		evidence = p.Original
	}
	md := photo.ReadMetadata(p.Original, nil)
	captured := p.CapturedAt
	if captured.IsZero() {
		captured = md.TakenAt
	}
	if captured.IsZero() {
		captured = c.Now()
	}
	gps := p.GPS
	if gps == nil && md.HasGPS {
		gps = &GPS{Lat: md.Lat, Lon: md.Lon}
	}

	fields := map[string]any{
		"stage":       p.Stage,
		"captured_at": captured.Format(time.RFC3339),
	}
	if p.HouseholdID != "" {
		fields["household_id"] = p.HouseholdID
	}
	if p.CaseID != "" {
		fields["case_id"] = p.CaseID
	}
	if gps != nil {
		fields["gps"] = gps
	}
	if p.Note != "" {
		fields["note"] = p.Note
	}

	evSHA, evNew, err := c.blobs.put(evidence)
	if err != nil {
		return "", err
	}
	created := []string{}
	if evNew {
		created = append(created, evSHA)
	}
	origSHA := evSHA
	if !sameAsOriginal {
		var origNew bool
		if origSHA, origNew, err = c.blobs.put(p.Original); err != nil {
			c.removeBlobs(created)
			return "", err
		}
		if origNew {
			created = append(created, origSHA)
		}
	}
	fields["blob_sha256"] = evSHA

	id := c.NewID()
	err = c.update(func(tx *bolt.Tx, cd codec) error {
		area := p.Area
		if area == "" {
			col, rid := CollectionHouseholds, p.HouseholdID
			if rid == "" {
				col, rid = CollectionHousingCases, p.CaseID
			}
			v, err := c.viewTx(tx, cd, col, rid)
			if err != nil {
				return err
			}
			area = v.Area
		}
		if device := (meta{tx.Bucket(bucketMeta)}).str(metaDevice); device != "" {
			fields["device"] = device
		}
		set, err := c.checkedFields(CollectionPhotos, id, fields)
		if err != nil {
			return err
		}
		if _, err := c.writeTx(tx, cd, CollectionPhotos, id, area, set, nil); err != nil {
			return err
		}
		queue := []*storedUpload{{Class: UploadEvidence, SHA256: evSHA, Size: int64(len(evidence))}}
		if origSHA != evSHA {
			queue = append(queue, &storedUpload{Class: UploadOriginal, SHA256: origSHA, Size: int64(len(p.Original))})
		}
		for _, u := range queue {
			u.Kind, u.Collection, u.RecordID, u.Area = blobKindPhoto, CollectionPhotos, id, area
			if err := c.enqueueTx(tx, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.removeBlobs(created)
		return "", err
	}
	return id, nil
}

// SignatureCapture is a signature written on the tablet's pad.
type SignatureCapture struct {
	// SignerName is who signed, as on the 户口簿 (e.g. 张建国).
	SignerName string
	// SignerRole is household_head, surveyor, officer, village_secretary,
	// team_member or other.
	SignerRole string
	// SignedCollection and SignedRecordID name the record signed; it must
	// be on this tablet.
	SignedCollection, SignedRecordID string
	// Purpose is visit, acceptance, identification or other ("" leaves it
	// out).
	Purpose string
	// Strokes are the pen strokes, at most 200 of at most 1000 points.
	Strokes []Stroke
	// SignedAt is when the signature was written. Zero: the tablet's Now.
	SignedAt time.Time
}

// CaptureSignature records a signature: it renders the strokes to a PNG,
// hashes the signed record's current content on this tablet (its values
// without annotation fields, canonical JSON, see package
// assets/signature), signs the signatures record with the device's
// enrolled ed25519 key (device_signature, device_id), and writes the
// record and queues the PNG upload in one transaction. If the signed
// record changes later, the signature shows as stale. It returns the new
// signatures record id.
//
// Codes: EINVALID (empty or oversized strokes, or the Validator refused
// the record), ENOTFOUND (the signed record is not on this tablet, or was
// deleted), EUNAUTHORIZED (not enrolled: there is no device key),
// EREVOKED.
func (c *Client) CaptureSignature(ctx context.Context, s SignatureCapture) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if s.SignedCollection == "" || s.SignedRecordID == "" {
		return "", syncengine.Errorf(syncengine.EINVALID, "签字需要指明所签的记录")
	}
	if len(s.Strokes) > maxStrokes {
		return "", syncengine.Errorf(syncengine.EINVALID, "签字笔画过多（%d，最多 %d）", len(s.Strokes), maxStrokes)
	}
	for _, st := range s.Strokes {
		if len(st) > maxPointsPerStroke {
			return "", syncengine.Errorf(syncengine.EINVALID, "签字笔画的点过多（%d，最多 %d）", len(st), maxPointsPerStroke)
		}
	}
	img, err := renderStrokes(s.Strokes)
	if err != nil {
		return "", err
	}
	signedAt := s.SignedAt
	if signedAt.IsZero() {
		signedAt = c.Now()
	}
	imgSHA, imgNew, err := c.blobs.put(img)
	if err != nil {
		return "", err
	}
	id := c.NewID()
	err = c.update(func(tx *bolt.Tx, cd codec) error {
		target, err := c.viewTx(tx, cd, s.SignedCollection, s.SignedRecordID)
		if err != nil {
			return err
		}
		content := signature.Content(target.Values, c.opts.Policy(s.SignedCollection).Annotations)
		contentSHA, err := signature.ContentSHA256(content)
		if err != nil {
			return syncengine.Errorf(syncengine.EINVALID, "%s/%s: %v", s.SignedCollection, s.SignedRecordID, err)
		}
		m := meta{tx.Bucket(bucketMeta)}
		priv, device := m.bytes(metaDeviceKey), m.str(metaDevice)
		if len(priv) != ed25519.PrivateKeySize || device == "" {
			return syncengine.Errorf(syncengine.EUNAUTHORIZED, "此设备尚未登记，无法签名")
		}
		fields := map[string]any{
			"signer_name":           s.SignerName,
			"signer_role":           s.SignerRole,
			"signed_collection":     s.SignedCollection,
			"signed_record_id":      s.SignedRecordID,
			"signed_content_sha256": contentSHA,
			"strokes":               s.Strokes,
			"image_sha256":          imgSHA,
			"device_id":             device,
			"signed_at":             signedAt.Format(time.RFC3339),
		}
		if s.Purpose != "" {
			fields["purpose"] = s.Purpose
		}
		set, err := encodeFields(CollectionSignatures, id, fields)
		if err != nil {
			return err
		}
		ds, err := signature.Sign(ed25519.PrivateKey(priv), set)
		if err != nil {
			return fmt.Errorf("sign %s/%s: %w", CollectionSignatures, id, err)
		}
		set[signature.FieldDeviceSignature], _ = json.Marshal(ds)
		if err := c.validate(CollectionSignatures, id, set); err != nil {
			return err
		}
		if _, err := c.writeTx(tx, cd, CollectionSignatures, id, target.Area, set, nil); err != nil {
			return err
		}
		return c.enqueueTx(tx, &storedUpload{
			Class: UploadSignature, Kind: blobKindSignature, SHA256: imgSHA, Size: int64(len(img)),
			Collection: CollectionSignatures, RecordID: id, Area: target.Area,
		})
	})
	if err != nil {
		if imgNew {
			c.removeBlobs([]string{imgSHA})
		}
		return "", err
	}
	return id, nil
}

// checkedFields encodes fields and runs the Validator over them.
func (c *Client) checkedFields(collection, id string, fields map[string]any) (map[string]json.RawMessage, error) {
	set, err := encodeFields(collection, id, fields)
	if err != nil {
		return nil, err
	}
	return set, c.validate(collection, id, set)
}

func encodeFields(collection, id string, fields map[string]any) (map[string]json.RawMessage, error) {
	set := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: encode %s: %w", collection, id, k, err)
		}
		set[k] = b
	}
	return set, nil
}

func (c *Client) validate(collection, id string, set map[string]json.RawMessage) error {
	if c.opts.Validator == nil {
		return nil
	}
	if err := c.opts.Validator.ValidatePatch(collection, set); err != nil {
		return invalid(collection, id, err)
	}
	return nil
}

// viewTx returns a live record's view inside a transaction.
func (c *Client) viewTx(tx *bolt.Tx, cd codec, collection, id string) (*RecordView, error) {
	key := collection + "/" + id
	e, err := c.recordsOf(tx, cd).get(key)
	if err != nil {
		return nil, err
	}
	if e.view() == nil {
		return nil, syncengine.Errorf(syncengine.ENOTFOUND, "%s: 此设备上没有这条记录", key)
	}
	v := newView(e.view(), e.Local != nil)
	if v.Deleted {
		return nil, syncengine.Errorf(syncengine.ENOTFOUND, "%s: 记录已删除", key)
	}
	return v, nil
}

// removeBlobs deletes evidence files this call created when its
// transaction did not commit (files already there stay: another item may
// need them).
func (c *Client) removeBlobs(shas []string) {
	var errs []error
	for _, sha := range shas {
		errs = append(errs, c.blobs.remove(sha))
	}
	if err := errors.Join(errs...); err != nil {
		c.log.Warn("remove evidence files of a failed write", "err", err)
	}
}

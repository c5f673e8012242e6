package server

import (
	"fmt"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/assets/findings"
	"github.com/ruhu-dev/ruhu/assets/signature"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// More housing evidence gaps (see MissingBeforePhoto), as county staff
// read them in the 缺少资料 column.
const (
	MissingBeforeUpload      = "改造前照片文件未上传"
	MissingAfterUpload       = "竣工后照片文件未上传"
	MissingPhotoPlace        = "改造前后照片缺少拍摄位置"
	MissingPhotosFarApart    = "改造前后照片拍摄地点相距过远"
	MissingAcceptance        = "户主竣工验收签字"
	MissingAcceptanceStale   = "户主竣工验收签字已失效（签字后案件被修改）"
	MissingAcceptanceInvalid = "户主竣工验收签字无效"
)

// caseEvidence is the verdict on one housing case's evidence.
type caseEvidence struct {
	CaseID   string   `json:"case_id"`
	Complete bool     `json:"complete"`
	Missing  []string `json:"missing"`
}

// casePhoto is a photos record that documents a housing case, as the
// judge needs it. Its blob's facts are looked up only when judged.
type casePhoto struct {
	stage    string
	sha      string
	captured time.Time
	gps      *findings.LatLon
}

// caseEvidenceReader gathers the photos and the household head's
// acceptance signatures of housing cases from the store, and judges each
// case (see judge). Feed it photos records through photo and signatures
// records through signature (both ScanRecordsIn callbacks, with
// casePhotoFields and caseSignatureFields).
type caseEvidenceReader struct {
	tx     Tx
	policy EvidencePolicy
	// byCase holds photos by their case_id; byBlob by their blob_sha256.
	byCase map[string][]casePhoto
	byBlob map[string][]casePhoto
	// acceptances holds, per case, the status of each acceptance
	// signature by the household head.
	acceptances map[string][]string
	// blobs caches blob facts by sha256; a nil entry is no verified blob.
	blobs map[string]*core.Blob
}

func newCaseEvidenceReader(tx Tx, policy EvidencePolicy) *caseEvidenceReader {
	return &caseEvidenceReader{tx: tx, policy: policy, byCase: map[string][]casePhoto{}, byBlob: map[string][]casePhoto{},
		acceptances: map[string][]string{}, blobs: map[string]*core.Blob{}}
}

// casePhotoFields are the photos fields photo reads, in order.
var casePhotoFields = []string{"captured_at", "stage", "case_id", "blob_sha256", "gps"}

// photo reads a photos record (fields as casePhotoFields).
func (r *caseEvidenceReader) photo(_, _ string, f []core.FieldView) error {
	at, ok := jsonTime(f[0].Value)
	if !ok {
		return nil
	}
	p := casePhoto{stage: jsonString(f[1].Value), sha: jsonString(f[3].Value), captured: at}
	var g gpsFix
	if jsonValue(f[4].Value, &g) {
		p.gps = &findings.LatLon{Lat: g.Lat, Lon: g.Lon}
	}
	if c := jsonString(f[2].Value); c != "" {
		r.byCase[c] = append(r.byCase[c], p)
	}
	if p.sha != "" {
		r.byBlob[p.sha] = append(r.byBlob[p.sha], p)
	}
	return nil
}

// caseSignatureFields are the signatures fields signature reads, in order.
var caseSignatureFields = []string{"signed_collection", "signed_record_id", "signer_role", "purpose"}

// signature reads a signatures record (fields as caseSignatureFields) and,
// when it is the household head's acceptance of a housing case, judges
// it. A housing case is a mutable collection, which has no annotation
// fields: its whole content is signed.
func (r *caseEvidenceReader) signature(id, _ string, f []core.FieldView) error {
	if jsonString(f[0].Value) != collection.HousingCases || jsonString(f[2].Value) != "household_head" || jsonString(f[3].Value) != "acceptance" {
		return nil
	}
	caseID := jsonString(f[1].Value)
	rec, err := r.tx.Record(collection.Signatures, id)
	if err != nil || rec == nil {
		return err
	}
	st, err := signatureStatus(r.tx, rec, func(string) []string { return nil })
	if err != nil {
		return err
	}
	r.acceptances[caseID] = append(r.acceptances[caseID], st)
	return nil
}

// blob returns the facts of a verified blob (nil when none), cached.
func (r *caseEvidenceReader) blob(sha string) (*core.Blob, error) {
	if b, ok := r.blobs[sha]; ok {
		return b, nil
	}
	b, err := r.tx.Blob(sha)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", sha, err)
	}
	r.blobs[sha] = b
	return b, nil
}

// judgedPhoto is a case photo whose blob arrived, with its best capture
// time and place: the photo's EXIF where the blob has it, else what the
// tablet recorded.
type judgedPhoto struct {
	at    time.Time
	where *findings.LatLon
}

// judge decides whether a housing case's evidence is complete: at least
// one before and one after photo whose files arrived (verified blobs), an
// after photo taken later than a before photo with both taken within the
// policy's case distance of each other, and a valid acceptance signature
// by the household head on the case. The case's photos are the photos
// records naming it in case_id plus those whose blob it cites in blobs
// (its photo_sha256s). Missing lists every gap found, in that order.
func (r *caseEvidenceReader) judge(caseID string, blobs []string) (caseEvidence, error) {
	photos := slices.Clone(r.byCase[caseID])
	for _, b := range blobs {
		photos = append(photos, r.byBlob[b]...)
	}
	var before, after []judgedPhoto
	var beforeRecords, afterRecords int
	for _, p := range photos {
		if p.stage != "before" && p.stage != "after" {
			continue
		}
		if p.stage == "before" {
			beforeRecords++
		} else {
			afterRecords++
		}
		b, err := r.blob(p.sha)
		if err != nil {
			return caseEvidence{}, err
		}
		if b == nil {
			continue
		}
		j := judgedPhoto{at: p.captured, where: p.gps}
		if b.TakenAt != nil {
			j.at = *b.TakenAt
		}
		if b.GPS != nil {
			j.where = &findings.LatLon{Lat: b.GPS.Lat, Lon: b.GPS.Lon}
		}
		if p.stage == "before" {
			before = append(before, j)
		} else {
			after = append(after, j)
		}
	}
	v := caseEvidence{CaseID: caseID, Missing: []string{}}
	switch {
	case beforeRecords == 0:
		v.Missing = append(v.Missing, MissingBeforePhoto)
	case len(before) == 0:
		v.Missing = append(v.Missing, MissingBeforeUpload)
	}
	switch {
	case afterRecords == 0:
		v.Missing = append(v.Missing, MissingAfterPhoto)
	case len(after) == 0:
		v.Missing = append(v.Missing, MissingAfterUpload)
	}
	if len(before) > 0 && len(after) > 0 {
		later, located, near := false, false, false
		for _, b := range before {
			for _, a := range after {
				if !a.at.After(b.at) {
					continue
				}
				later = true
				if a.where != nil && b.where != nil {
					located = true
					near = near || findings.DistanceMetres(*a.where, *b.where) <= r.policy.caseSpreadMetres()
				}
			}
		}
		switch {
		case !later:
			v.Missing = append(v.Missing, MissingAfterLater)
		case !located:
			v.Missing = append(v.Missing, MissingPhotoPlace)
		case !near:
			v.Missing = append(v.Missing, MissingPhotosFarApart)
		}
	}
	st := r.acceptances[caseID]
	switch {
	case slices.Contains(st, signature.StatusValid):
	case slices.Contains(st, signature.StatusStale):
		v.Missing = append(v.Missing, MissingAcceptanceStale)
	case slices.Contains(st, signature.StatusInvalid):
		v.Missing = append(v.Missing, MissingAcceptanceInvalid)
	default:
		v.Missing = append(v.Missing, MissingAcceptance)
	}
	v.Complete = len(v.Missing) == 0
	return v, nil
}

// housingEvidence judges one housing case from the photos and signatures
// filed under its area.
func (s *Server) housingEvidence(rec *syncengine.Record) (caseEvidence, error) {
	var v caseEvidence
	err := view(s.store, func(tx Tx) error {
		r := newCaseEvidenceReader(tx, s.cfg.Evidence)
		if err := tx.ScanRecordsIn(collection.Photos, rec.Area, casePhotoFields, r.photo); err != nil {
			return fmt.Errorf("photos of case %s: %w", rec.ID, err)
		}
		if err := tx.ScanRecordsIn(collection.Signatures, rec.Area, caseSignatureFields, r.signature); err != nil {
			return fmt.Errorf("signatures of case %s: %w", rec.ID, err)
		}
		var blobs []string
		jsonValue(rec.Fields["photo_sha256s"].Value, &blobs)
		var err error
		v, err = r.judge(rec.ID, blobs)
		return err
	})
	if err != nil {
		return caseEvidence{}, storeErr("housing evidence", err)
	}
	return v, nil
}

// handleHousingEvidence serves GET /v1/housing_cases/{id}/evidence:
// whether the case's evidence is complete and, if not, what is missing
// (zh-CN). ENOTFOUND for an unknown case or one outside the caller's
// scope.
func (s *Server) handleHousingEvidence(c *fiber.Ctx) error {
	cl := claimsOf(c)
	id, err := decodedParam(c, "id")
	if err != nil {
		return err
	}
	var rec *syncengine.Record
	if err := view(s.store, func(tx Tx) (err error) { rec, err = tx.Record(collection.HousingCases, id); return err }); err != nil {
		return storeErr("housing case", err)
	}
	if rec == nil || !auth.InScope(cl.Scopes, rec.Area) {
		return syncengine.Errorf(syncengine.ENOTFOUND, "no housing case %s", id)
	}
	v, err := s.housingEvidence(rec)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

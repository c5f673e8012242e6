package server

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/assets/findings"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// EvidencePolicy holds the tolerances of the evidence checks: the photo
// findings and the evidence-complete housing case. The zero value means
// the defaults.
type EvidencePolicy struct {
	// Findings are the photo checks' tolerances. Each zero field means the
	// default documented on findings.Policy: 6 bits of perceptual hash for
	// a near duplicate, 10 minutes between EXIF and record time, 200 m
	// between EXIF and record position, and 100 m between the before and
	// after photos of a case. CaseSpreadMetres is also the distance limit
	// of an evidence-complete housing case.
	Findings findings.Policy
}

// defaultCaseSpreadMetres is findings.Policy's default for
// CaseSpreadMetres.
const defaultCaseSpreadMetres = 100

// caseSpreadMetres is how far apart the before and after photos of an
// evidence-complete case may be taken.
func (p EvidencePolicy) caseSpreadMetres() float64 {
	if p.Findings.CaseSpreadMetres > 0 {
		return p.Findings.CaseSpreadMetres
	}
	return defaultCaseSpreadMetres
}

// Evidence manifest statuses: a record citing blobs is complete once
// every blob it cites is verified and present in the blob store.
const (
	EvidenceComplete   = "complete"
	EvidenceIncomplete = "incomplete"
)

// evidenceView is the completeness manifest of a record that cites blobs.
type evidenceView struct {
	Status string `json:"status"`
	// Cited are the sha256s the record cites, sorted; Missing those not
	// (yet) verified and present in the blob store.
	Cited   []string `json:"cited"`
	Missing []string `json:"missing"`
	// Unusable are cited blobs that arrived intact but are not usable
	// images (status failed): present, so they do not make the record
	// incomplete, but a reviewer should see them.
	Unusable []unusableBlob `json:"unusable,omitempty"`
}

type unusableBlob struct {
	SHA256 string `json:"sha256"`
	Reason string `json:"reason"`
}

// blobCiter is the part of the schema registry that names the blobs a
// record cites (schemas.Registry.CitedBlobs). A Validator without it
// shows no manifests.
type blobCiter interface {
	CitedBlobs(collection string, fields map[string]json.RawMessage) ([]string, error)
}

// evidenceManifest tells which of the blobs a record cites are verified
// and present. It returns nil for a collection that cites no blobs.
// Presence is asked of the blob store (uploads.Service.Facts); while the
// store is unreachable, the verification recorded when the blob was
// committed stands in for it.
func (s *Server) evidenceManifest(ctx context.Context, rec *syncengine.Record) (*evidenceView, error) {
	citer, ok := s.schemas.(blobCiter)
	if !ok || len(s.schemas.Policy(rec.Collection).CitesBlobs) == 0 {
		return nil, nil
	}
	cited, err := citer.CitedBlobs(rec.Collection, rec.Values())
	if err != nil {
		return nil, fmt.Errorf("blobs cited by %s: %w", rec.Key(), err)
	}
	v := &evidenceView{Cited: append([]string{}, cited...), Missing: []string{}}
	for _, sha := range cited {
		b, err := s.verifiedBlob(ctx, sha)
		if err != nil {
			return nil, err
		}
		switch {
		case b == nil:
			v.Missing = append(v.Missing, sha)
		case b.Status == core.BlobFailed:
			v.Unusable = append(v.Unusable, unusableBlob{SHA256: sha, Reason: b.Reason})
		}
	}
	v.Status = EvidenceComplete
	if len(v.Missing) > 0 {
		v.Status = EvidenceIncomplete
	}
	return v, nil
}

// verifiedBlob returns the facts of a blob whose bytes were verified
// against sha and are in the blob store, nil when there is none.
func (s *Server) verifiedBlob(ctx context.Context, sha string) (*core.Blob, error) {
	if s.uploads == nil {
		return nil, nil // no blob store: nothing can have arrived
	}
	b, err := s.uploads.Facts(ctx, sha)
	switch syncengine.ErrorCode(err) {
	case "":
		return b, nil
	case syncengine.ENOTFOUND:
		return nil, nil
	case syncengine.ETRANSIENT:
		err = view(s.store, func(tx Tx) (err error) { b, err = tx.Blob(sha); return err })
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", sha, err)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("blob %s: %w", sha, err)
	}
}

// addEvidenceViews adds to a record's view what the evidence checks say
// of it: "evidence" (the completeness manifest) for a record citing
// blobs, "signature_status" for a signatures record, and
// "housing_evidence" for a housing case.
func (s *Server) addEvidenceViews(ctx context.Context, rec *syncengine.Record, out fiber.Map) error {
	ev, err := s.evidenceManifest(ctx, rec)
	if err != nil {
		return err
	}
	if ev != nil {
		out["evidence"] = ev
	}
	switch rec.Collection {
	case collection.Signatures:
		var st string
		err := view(s.store, func(tx Tx) (err error) {
			st, err = signatureStatus(tx, rec, s.annotations)
			return err
		})
		if err != nil {
			return storeErr("signature status", err)
		}
		out["signature_status"] = st
	case collection.HousingCases:
		v, err := s.housingEvidence(rec)
		if err != nil {
			return err
		}
		out["housing_evidence"] = v
	}
	return nil
}

// annotations returns the annotation fields of a collection, which a
// signature's content leaves out.
func (s *Server) annotations(collection string) []string {
	return s.schemas.Policy(collection).Annotations
}

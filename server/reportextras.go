package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/assets/findings"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/reports"
)

// addComplianceExtra counts into a compliance report what the field rules
// do not compute from their input: the doubtful photo evidence under the
// report's area (GET /v1/findings), overdue rectification ledger items and
// exit cases whose household no longer meets the exit standards
// (reports.Report.Add). caller must read reports of the area. r is changed
// in place: it must be the caller's own report, never one a cache shares.
func (s *Server) addComplianceExtra(ctx context.Context, caller core.Caller, r *reports.Report) error {
	var x reports.Extra
	views, err := s.photoFindings(r.Area)
	if err != nil {
		return fmt.Errorf("report photo findings: %w", err)
	}
	areas := map[string]string{}
	areaOf := func(collection, id string) string {
		key := collection + "/" + id
		if a, ok := areas[key]; ok {
			return a
		}
		rec, _, err := s.core.Record(ctx, core.Operator(), collection, id, false)
		a := ""
		if err == nil && rec != nil {
			a = rec.Area
		}
		areas[key] = a
		return a
	}
	for _, v := range views {
		x.Photos = append(x.Photos, photoFindingOf(v, r.Area, areaOf))
	}
	if x.Ledger, err = s.core.LedgerItems(ctx, caller, r.Area); err != nil {
		return fmt.Errorf("report ledger: %w", err)
	}
	if x.Exits, err = s.core.ExitFindings(ctx, caller, r.Area); err != nil {
		return fmt.Errorf("report exit cases: %w", err)
	}
	r.Add(x)
	return nil
}

// photoFindingOf places a photo finding at a village: the village of its
// first household under scope, else of its first household known, else of
// the first record citing its photos. areaOf returns a stored record's
// area ("" when unknown).
func photoFindingOf(v findingView, scope string, areaOf func(collection, id string) string) reports.PhotoFinding {
	f := findings.Finding{Kind: findings.Kind(v.Kind), Title: v.Title, Detail: v.Detail, HouseholdIDs: v.HouseholdIDs, CaseID: v.CaseID}
	if v.HashBits != nil {
		f.HashBits = *v.HashBits
	}
	if v.DeltaSeconds != nil {
		f.Delta = time.Duration(*v.DeltaSeconds) * time.Second
	}
	if v.Metres != nil {
		f.Metres = *v.Metres
	}
	area := ""
	for _, h := range v.HouseholdIDs {
		a := areaOf(collection.Households, h)
		if a != "" && area == "" {
			area = a
		}
		if a != "" && strings.HasPrefix(a, scope) {
			area = a
			break
		}
	}
	records := make([]string, len(v.Photos))
	shas := make([]string, len(v.Photos))
	for i, p := range v.Photos {
		records[i], shas[i] = p.Record, p.SHA256
		if col, id, ok := strings.Cut(p.Record, "/"); ok && area == "" {
			area = areaOf(col, id)
		}
	}
	return reports.NewPhotoFinding(f, area, records, shas)
}

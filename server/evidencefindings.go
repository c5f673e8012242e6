package server

import (
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/assets/findings"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/core"
)

// photoRef names one citation of a photo: the record citing it and the
// blob cited. Findings list these so the UI can link to both.
type photoRef struct {
	Record string `json:"record"` // <collection>/<id>
	SHA256 string `json:"sha256"`
}

// findingView is one finding of doubtful photo evidence as the API shows
// it: findings.Finding with photo ids resolved to their citations and the
// measurement in plain units.
type findingView struct {
	Kind         string     `json:"kind"`
	Title        string     `json:"title"`
	Detail       string     `json:"detail"`
	Photos       []photoRef `json:"photos"`
	HouseholdIDs []string   `json:"household_ids"`
	CaseID       string     `json:"case_id,omitempty"`
	HashBits     *int       `json:"hash_bits,omitempty"`
	DeltaSeconds *int64     `json:"delta_seconds,omitempty"`
	Metres       *float64   `json:"metres,omitempty"`
}

// photoGatherer turns the photo citations under an area into
// findings.Photo values joined with their blobs' facts. Photo ids are
// "<collection>/<record id>" for photos records and
// "<collection>/<record id>/<sha256>" for blobs cited by visits and
// housing cases; refs resolves them.
type photoGatherer struct {
	tx     Tx
	photos []findings.Photo
	refs   map[string]photoRef
	// caseHousehold maps a housing case to its household; caseBlobs
	// holds each case's photo_sha256s.
	caseHousehold map[string]string
	caseBlobs     map[string][]string
	// covered marks case id + sha256 pairs a photos record already cites.
	covered map[string]bool
	blobs   map[string]*core.Blob
}

func (g *photoGatherer) add(p findings.Photo, ref photoRef) error {
	b, ok := g.blobs[ref.SHA256]
	if !ok {
		var err error
		if b, err = g.tx.Blob(ref.SHA256); err != nil {
			return fmt.Errorf("blob %s: %w", ref.SHA256, err)
		}
		g.blobs[ref.SHA256] = b
	}
	p.SHA256 = ref.SHA256
	if b != nil && b.Status == core.BlobReady {
		p.PHash, p.HasPHash = b.PHash, b.HasPHash
		if b.TakenAt != nil {
			p.EXIFTime = *b.TakenAt
		}
		if b.GPS != nil {
			p.EXIFGPS = &findings.LatLon{Lat: b.GPS.Lat, Lon: b.GPS.Lon}
		}
	}
	g.photos = append(g.photos, p)
	g.refs[p.ID] = ref
	return nil
}

func recordGPS(raw []byte) *findings.LatLon {
	var g gpsFix
	if !jsonValue(raw, &g) {
		return nil
	}
	return &findings.LatLon{Lat: g.Lat, Lon: g.Lon}
}

// gatherPhotos reads every photo citation under area: photos records,
// visits' photo_sha256s and housing cases' photo_sha256s (those a photos
// record of the same case does not already cite). A photos record of a
// case without household_id takes the case's household.
func gatherPhotos(tx Tx, area string) (*photoGatherer, error) {
	g := &photoGatherer{tx: tx, refs: map[string]photoRef{}, caseHousehold: map[string]string{},
		caseBlobs: map[string][]string{}, covered: map[string]bool{}, blobs: map[string]*core.Blob{}}
	err := tx.ScanRecordsIn(collection.HousingCases, area, []string{"household_id", "photo_sha256s"}, func(id, _ string, f []core.FieldView) error {
		g.caseHousehold[id] = jsonString(f[0].Value)
		var blobs []string
		jsonValue(f[1].Value, &blobs)
		g.caseBlobs[id] = blobs
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read housing cases: %w", err)
	}
	err = tx.ScanRecordsIn(collection.Photos, area, []string{"blob_sha256", "household_id", "case_id", "stage", "captured_at", "gps"}, func(id, _ string, f []core.FieldView) error {
		sha := jsonString(f[0].Value)
		if sha == "" {
			return nil
		}
		p := findings.Photo{ID: collection.Photos + "/" + id, HouseholdID: jsonString(f[1].Value), CaseID: jsonString(f[2].Value),
			Stage: findings.Stage(jsonString(f[3].Value)), RecordGPS: recordGPS(f[5].Value)}
		if at, ok := jsonTime(f[4].Value); ok {
			p.RecordTime = at
		}
		if p.HouseholdID == "" {
			p.HouseholdID = g.caseHousehold[p.CaseID]
		}
		if p.CaseID != "" {
			g.covered[p.CaseID+"/"+sha] = true
		}
		return g.add(p, photoRef{Record: p.ID, SHA256: sha})
	})
	if err != nil {
		return nil, fmt.Errorf("read photos: %w", err)
	}
	// A store that indexes the visits citing photos saves reading every
	// visit of the area (a county's million) for the few that do.
	scanVisits := func(fn func(id, area string, f []core.FieldView) error) error {
		return tx.ScanRecordsIn(collection.Visits, area, []string{"household_id", "visited_at", "gps", "photo_sha256s"}, fn)
	}
	if ix, ok := tx.(core.VisitIndexTx); ok {
		scanVisits = func(fn func(id, area string, f []core.FieldView) error) error { return ix.ScanVisitPhotos(area, fn) }
	}
	err = scanVisits(func(id, _ string, f []core.FieldView) error {
		if len(f[3].Value) == 0 {
			return nil
		}
		var blobs []string
		jsonValue(f[3].Value, &blobs)
		for _, sha := range blobs {
			p := findings.Photo{ID: collection.Visits + "/" + id + "/" + sha, HouseholdID: jsonString(f[0].Value), RecordGPS: recordGPS(f[2].Value)}
			if at, ok := jsonTime(f[1].Value); ok {
				p.RecordTime = at
			}
			if err := g.add(p, photoRef{Record: collection.Visits + "/" + id, SHA256: sha}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read visits: %w", err)
	}
	for caseID, blobs := range g.caseBlobs {
		for _, sha := range blobs {
			if g.covered[caseID+"/"+sha] {
				continue
			}
			p := findings.Photo{ID: collection.HousingCases + "/" + caseID + "/" + sha, HouseholdID: g.caseHousehold[caseID], CaseID: caseID}
			if err := g.add(p, photoRef{Record: collection.HousingCases + "/" + caseID, SHA256: sha}); err != nil {
				return nil, err
			}
		}
	}
	return g, nil
}

// photoFindings runs the photo checks (assets/findings) over every photo
// cited under an area-code prefix, joined with the facts the blob
// pipeline recorded: perceptual hash, EXIF time and GPS. Photos whose
// blob has not arrived or not been processed take part with what their
// record says. The result is ordered as findings.Check orders it.
func (s *Server) photoFindings(area string) ([]findingView, error) {
	var g *photoGatherer
	err := view(s.store, func(tx Tx) (err error) {
		g, err = gatherPhotos(tx, area)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := []findingView{}
	for _, f := range findings.Check(g.photos, s.cfg.Evidence.Findings) {
		v := findingView{Kind: string(f.Kind), Title: f.Title, Detail: f.Detail, HouseholdIDs: f.HouseholdIDs, CaseID: f.CaseID}
		if v.HouseholdIDs == nil {
			v.HouseholdIDs = []string{}
		}
		for _, id := range f.PhotoIDs {
			v.Photos = append(v.Photos, g.refs[id])
		}
		switch f.Kind {
		case findings.ReusedPhoto:
			v.HashBits = &f.HashBits
		case findings.EXIFTimeMismatch, findings.AfterBeforeBefore:
			d := int64(f.Delta / time.Second)
			v.DeltaSeconds = &d
		case findings.EXIFGPSMismatch, findings.BeforeAfterFarApart:
			v.Metres = &f.Metres
		}
		out = append(out, v)
	}
	return out, nil
}

// handleFindings serves GET /v1/findings?area=<prefix>: the doubtful
// photo evidence under an area (township, county, auditor, admin; the
// area must be within the caller's scope). EINVALID for a bad area,
// EFORBIDDEN for another role or an area outside the scope.
func (s *Server) handleFindings(c *fiber.Ctx) error {
	cl := claimsOf(c)
	if !auth.CanReadReports(cl.Role) {
		return errForbidden("role %s may not read findings", cl.Role)
	}
	area := c.Query("area")
	if !validReportArea(area) {
		return errInvalid("area: must be an area code of 2 to 12 digits, got %q", area)
	}
	if !auth.ScopeCovers(cl.Scopes, area) {
		return errForbidden("area %s is not within your scope", area)
	}
	out, err := s.photoFindings(area)
	if err != nil {
		return storeErr("findings", err)
	}
	counts := map[string]int{}
	for _, f := range out {
		counts[f.Kind]++
	}
	s.log.Info("findings served", "user", cl.Subject, "area", area, "findings", len(out))
	return c.JSON(fiber.Map{"area": area, "counts": counts, "findings": out, "summary": findingsSummary(counts)})
}

// findingsSummary is a one-line zh-CN summary: "同一照片…用于不同农户 1 条；…".
func findingsSummary(counts map[string]int) string {
	if len(counts) == 0 {
		return "未发现可疑照片"
	}
	var parts []string
	for _, k := range []findings.Kind{findings.ReusedPhoto, findings.EXIFTimeMismatch, findings.EXIFGPSMismatch, findings.AfterBeforeBefore, findings.BeforeAfterFarApart} {
		if n := counts[string(k)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d 条", k.Title(), n))
		}
	}
	return strings.Join(parts, "；")
}

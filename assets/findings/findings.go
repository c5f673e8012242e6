// Package findings holds the pure checks that make doubtful photo evidence
// visible: the same picture cited by two households, EXIF time or place
// that disagrees with the record citing the photo, and before/after photos
// of a renovation case that contradict each other. Nothing here does I/O;
// the server feeds it facts and shows the findings.
//
// Coordinates must be WGS-84 on both sides. Chinese map SDKs on tablets
// often report GCJ-02, which is shifted 100–700 m from WGS-84 (camera
// EXIF): convert before comparing, or every photo will look misplaced.
package findings

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Stage is the renovation stage a photo documents.
type Stage string

// Stages of a housing renovation case.
const (
	Before Stage = "before"
	During Stage = "during"
	After  Stage = "after"
)

// LatLon is a WGS-84 position in degrees.
type LatLon struct{ Lat, Lon float64 }

// earthRadius is the mean Earth radius (IUGG), in metres.
const earthRadius = 6371008.8

// DistanceMetres is the great-circle (haversine) distance between a and b.
// Within the few kilometres that matter here its error is far below GPS
// noise.
func DistanceMetres(a, b LatLon) float64 {
	rad := math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLon := (b.Lon - a.Lon) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadius * math.Asin(math.Min(1, math.Sqrt(h)))
}

// Photo is what the checks know about one cited photo. Zero times and nil
// positions mean unknown; a check that needs an unknown value is skipped
// for that photo, never failed.
type Photo struct {
	// ID identifies the photo record (what the UI links to).
	ID string
	// SHA256 names the original bytes; PHash is its perceptual hash
	// (assets/photo.PHash). HasPHash is false until the photo is processed.
	SHA256   string
	PHash    uint64
	HasPHash bool
	// HouseholdID is the household the record cites the photo for.
	HouseholdID string
	// CaseID is the renovation case, empty for other evidence; Stage is its
	// stage within the case.
	CaseID string
	Stage  Stage
	// RecordTime and RecordGPS are what the tablet recorded with the photo.
	RecordTime time.Time
	RecordGPS  *LatLon
	// EXIFTime and EXIFGPS come from the photo itself.
	EXIFTime time.Time
	EXIFGPS  *LatLon
	// TabletTime is when the tablet recorded attaching the photo, by its
	// own clock (a photo record's recorded_at). RecordTime may have been
	// copied from EXIF, so only TabletTime tells an old photo attached now.
	TabletTime time.Time
}

// takenAt is the best capture time: the camera's own, else the record's.
func (p Photo) takenAt() time.Time {
	if !p.EXIFTime.IsZero() {
		return p.EXIFTime
	}
	return p.RecordTime
}

// takenWhere is the best capture place: the photo's fix, else the record's.
func (p Photo) takenWhere() *LatLon {
	if p.EXIFGPS != nil {
		return p.EXIFGPS
	}
	return p.RecordGPS
}

// Policy holds the tolerances, configured per jurisdiction and year. The
// zero value of each field means its default.
type Policy struct {
	// NearDuplicateBits is the largest perceptual-hash distance at which
	// two photos count as the same picture. Zero means 6. Byte-identical
	// photos (same SHA256) always count.
	NearDuplicateBits int
	// TimeTolerance is how far EXIF time may drift from the record time.
	// Zero means 10 minutes.
	TimeTolerance time.Duration
	// GPSToleranceMetres is how far the EXIF fix may be from the record's.
	// Zero means 200 m.
	GPSToleranceMetres float64
	// CaseSpreadMetres is how far apart before and after photos of one case
	// may be taken. Zero means 100 m.
	CaseSpreadMetres float64
	// OldPhotoDays: a photo whose EXIF time is more than this many days
	// before its TabletTime is an old photo. Zero means 7 (the shipped
	// rules policy photos.max_age_days); a negative value turns it off.
	OldPhotoDays int
}

func (p Policy) withDefaults() Policy {
	if p.NearDuplicateBits <= 0 {
		p.NearDuplicateBits = 6
	}
	if p.TimeTolerance <= 0 {
		p.TimeTolerance = 10 * time.Minute
	}
	if p.GPSToleranceMetres <= 0 {
		p.GPSToleranceMetres = 200
	}
	if p.CaseSpreadMetres <= 0 {
		p.CaseSpreadMetres = 100
	}
	if p.OldPhotoDays == 0 {
		p.OldPhotoDays = 7
	}
	return p
}

// Kind is the stable code of a finding; the UI and reports key on it.
type Kind string

// Finding kinds.
const (
	ReusedPhoto         Kind = "reused_photo"
	EXIFTimeMismatch    Kind = "exif_time_mismatch"
	EXIFGPSMismatch     Kind = "exif_gps_mismatch"
	AfterBeforeBefore   Kind = "after_before_before"
	BeforeAfterFarApart Kind = "before_after_far_apart"
	OldPhoto            Kind = "old_photo"
)

// Title is the zh-CN heading field staff see for a kind.
func (k Kind) Title() string {
	switch k {
	case ReusedPhoto:
		return "同一照片（或近似照片）用于不同农户"
	case EXIFTimeMismatch:
		return "照片拍摄时间与记录时间不符"
	case EXIFGPSMismatch:
		return "照片拍摄地点与记录位置不符"
	case AfterBeforeBefore:
		return "改造后照片早于改造前照片"
	case BeforeAfterFarApart:
		return "改造前后照片拍摄地点相距过远"
	case OldPhoto:
		return "照片拍摄时间远早于添加时间"
	}
	return string(k)
}

// Finding is one piece of doubtful evidence, with what proves it.
type Finding struct {
	Kind  Kind
	Title string // Kind.Title(), for the UI
	// Detail states the measured discrepancy in zh-CN.
	Detail string
	// PhotoIDs are the photos involved, in a stable order (for a pair: the
	// smaller id first, except before/after pairs, which list before first).
	PhotoIDs []string
	// HouseholdIDs and CaseID locate the finding.
	HouseholdIDs []string
	CaseID       string
	// The measurement behind the finding; only the one that applies is set.
	HashBits int           // reused_photo
	Delta    time.Duration // exif_time_mismatch, after_before_before, old_photo
	Metres   float64       // exif_gps_mismatch, before_after_far_apart
}

func newFinding(k Kind, detail string) Finding {
	return Finding{Kind: k, Title: k.Title(), Detail: detail}
}

// Check runs every check over photos and returns the findings ordered by
// kind, then photo ids, so repeated runs compare equal.
func Check(photos []Photo, policy Policy) []Finding {
	policy = policy.withDefaults()
	var out []Finding
	out = append(out, reused(photos, policy)...)
	for _, p := range photos {
		out = append(out, recordMismatches(p, policy)...)
	}
	out = append(out, caseContradictions(photos, policy)...)
	slices.SortStableFunc(out, func(a, b Finding) int {
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return slices.Compare(a.PhotoIDs, b.PhotoIDs)
	})
	return out
}

// reused finds pairs of photos cited by different households that are the
// same bytes or within NearDuplicateBits of each other.
func reused(photos []Photo, policy Policy) []Finding {
	idx := NewIndex(policy.NearDuplicateBits)
	bySHA := map[string][]int{}
	for i, p := range photos {
		if p.HasPHash {
			idx.Add(i, p.PHash)
		}
		if p.SHA256 != "" {
			bySHA[p.SHA256] = append(bySHA[p.SHA256], i)
		}
	}
	type pair struct{ a, b int }
	seen := map[pair]bool{}
	var out []Finding
	report := func(i, j int) {
		a, b := photos[i], photos[j]
		if a.HouseholdID == b.HouseholdID || a.HouseholdID == "" || b.HouseholdID == "" {
			return
		}
		if a.ID > b.ID {
			i, j, a, b = j, i, b, a
		}
		if seen[pair{i, j}] {
			return
		}
		seen[pair{i, j}] = true
		bits := 0
		if a.SHA256 == "" || a.SHA256 != b.SHA256 {
			bits = hamming(a.PHash, b.PHash)
		}
		f := newFinding(ReusedPhoto, fmt.Sprintf("农户 %s 与农户 %s 的照片相同或近似（感知哈希相差 %d 位）", a.HouseholdID, b.HouseholdID, bits))
		f.PhotoIDs = []string{a.ID, b.ID}
		f.HouseholdIDs = []string{a.HouseholdID, b.HouseholdID}
		f.HashBits = bits
		out = append(out, f)
	}
	for i, p := range photos {
		for _, j := range bySHA[p.SHA256] {
			if j != i && p.SHA256 != "" {
				report(i, j)
			}
		}
		if p.HasPHash {
			for _, j := range idx.Near(p.PHash) {
				if j != i {
					report(i, j)
				}
			}
		}
	}
	return out
}

// recordMismatches compares a photo's EXIF with the record citing it, and
// its EXIF time with when the tablet attached it. A discrepancy exactly at
// the tolerance is accepted.
func recordMismatches(p Photo, policy Policy) []Finding {
	var out []Finding
	if !p.EXIFTime.IsZero() && !p.RecordTime.IsZero() {
		delta := p.EXIFTime.Sub(p.RecordTime)
		if delta.Abs() > policy.TimeTolerance {
			f := newFinding(EXIFTimeMismatch, fmt.Sprintf("照片拍摄于 %s，记录时间为 %s，相差 %s",
				p.EXIFTime.Format(time.DateTime), p.RecordTime.In(p.EXIFTime.Location()).Format(time.DateTime), humanDuration(delta.Abs())))
			f.PhotoIDs, f.HouseholdIDs, f.CaseID, f.Delta = []string{p.ID}, []string{p.HouseholdID}, p.CaseID, delta
			out = append(out, f)
		}
	}
	if limit := time.Duration(policy.OldPhotoDays) * 24 * time.Hour; policy.OldPhotoDays > 0 && !p.EXIFTime.IsZero() && !p.TabletTime.IsZero() {
		if age := p.TabletTime.Sub(p.EXIFTime); age > limit {
			f := newFinding(OldPhoto, fmt.Sprintf("照片拍摄于 %s，%s 才添加到记录，相隔 %s（允许 %d 天）",
				p.EXIFTime.Format(time.DateTime), p.TabletTime.In(p.EXIFTime.Location()).Format(time.DateTime), humanDuration(age), policy.OldPhotoDays))
			f.PhotoIDs, f.HouseholdIDs, f.CaseID, f.Delta = []string{p.ID}, []string{p.HouseholdID}, p.CaseID, age
			out = append(out, f)
		}
	}
	if p.EXIFGPS != nil && p.RecordGPS != nil {
		if m := DistanceMetres(*p.EXIFGPS, *p.RecordGPS); m > policy.GPSToleranceMetres {
			f := newFinding(EXIFGPSMismatch, fmt.Sprintf("照片拍摄地点距记录位置 %.0f 米（允许 %.0f 米）", m, policy.GPSToleranceMetres))
			f.PhotoIDs, f.HouseholdIDs, f.CaseID, f.Metres = []string{p.ID}, []string{p.HouseholdID}, p.CaseID, m
			out = append(out, f)
		}
	}
	return out
}

// caseContradictions checks every before/after pair of each case.
func caseContradictions(photos []Photo, policy Policy) []Finding {
	type stages struct{ before, after []Photo }
	cases := map[string]*stages{}
	for _, p := range photos {
		if p.CaseID == "" {
			continue
		}
		c := cases[p.CaseID]
		if c == nil {
			c = &stages{}
			cases[p.CaseID] = c
		}
		switch p.Stage {
		case Before:
			c.before = append(c.before, p)
		case After:
			c.after = append(c.after, p)
		}
	}
	var out []Finding
	for caseID, c := range cases {
		for _, b := range c.before {
			for _, a := range c.after {
				located := func(f Finding) Finding {
					f.PhotoIDs, f.HouseholdIDs, f.CaseID = []string{b.ID, a.ID}, uniq(b.HouseholdID, a.HouseholdID), caseID
					return f
				}
				if tb, ta := b.takenAt(), a.takenAt(); !tb.IsZero() && !ta.IsZero() && ta.Before(tb) {
					f := newFinding(AfterBeforeBefore, fmt.Sprintf("改造后照片（%s）比改造前照片（%s）早 %s",
						ta.Format(time.DateTime), tb.In(ta.Location()).Format(time.DateTime), humanDuration(tb.Sub(ta))))
					f.Delta = tb.Sub(ta)
					out = append(out, located(f))
				}
				if pb, pa := b.takenWhere(), a.takenWhere(); pb != nil && pa != nil {
					if m := DistanceMetres(*pb, *pa); m > policy.CaseSpreadMetres {
						f := newFinding(BeforeAfterFarApart, fmt.Sprintf("改造前后照片拍摄地点相距 %.0f 米（允许 %.0f 米）", m, policy.CaseSpreadMetres))
						f.Metres = m
						out = append(out, located(f))
					}
				}
			}
		}
	}
	return out
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// humanDuration writes a duration in zh-CN, to the minute.
func humanDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	days, hours, minutes := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%d 天 %d 小时", days, hours)
	case hours > 0:
		return fmt.Sprintf("%d 小时 %d 分钟", hours, minutes)
	}
	return fmt.Sprintf("%d 分钟", minutes)
}

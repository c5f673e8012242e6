package reports

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/assets/findings"
	"github.com/ruhu-dev/ruhu/rules"
)

// Kinds of the photo findings as the report counts them. They are the
// assets/findings kinds, except that a reused photo is split: the same
// bytes (or the same perceptual hash) cited for two households is
// KindReusedPhoto, a near copy (a hash a few bits away) KindNearCopyPhoto.
const (
	KindReusedPhoto         rules.Kind = "reused_photo"
	KindNearCopyPhoto       rules.Kind = "near_copy_photo"
	KindEXIFTimeMismatch    rules.Kind = "exif_time_mismatch"
	KindEXIFGPSMismatch     rules.Kind = "exif_gps_mismatch"
	KindOldPhoto            rules.Kind = "old_photo"
	KindAfterBeforeBefore   rules.Kind = "after_before_before"
	KindBeforeAfterFarApart rules.Kind = "before_after_far_apart"
)

// PhotoKinds returns the photo finding kinds in report order.
func PhotoKinds() []rules.Kind {
	return []rules.Kind{KindReusedPhoto, KindNearCopyPhoto, KindEXIFTimeMismatch, KindEXIFGPSMismatch,
		KindOldPhoto, KindAfterBeforeBefore, KindBeforeAfterFarApart}
}

// Kinds returns every kind a report counts, in the order of the summary's
// columns and of the workbook's sheets: the field rules (rules.Kinds), the
// photo findings, overdue ledger items and exit cases whose household no
// longer meets the exit standards.
func Kinds() []rules.Kind {
	out := rules.Kinds()
	out = append(out, PhotoKinds()...)
	return append(out, rules.KindLedgerOverdue, rules.KindExitStandardsUnmet)
}

// Title returns a kind's Chinese title, as the summary's column and the
// list's sheet are named.
func Title(k rules.Kind) string {
	switch k {
	case KindReusedPhoto:
		return "同一照片用于不同农户"
	case KindNearCopyPhoto:
		return "近似照片用于不同农户"
	case KindEXIFTimeMismatch, KindEXIFGPSMismatch, KindOldPhoto, KindAfterBeforeBefore, KindBeforeAfterFarApart:
		return findings.Kind(k).Title()
	}
	return k.Title()
}

// PhotoFinding is one finding of doubtful photo evidence (assets/findings)
// placed in the area tree: Area is the village of the household it is
// counted under.
type PhotoFinding struct {
	Kind         rules.Kind `json:"kind"`
	Area         string     `json:"area"`
	Title        string     `json:"title"`
	Detail       string     `json:"detail"`
	HouseholdIDs []string   `json:"household_ids"`
	CaseID       string     `json:"case_id,omitempty"`
	// Records names the records citing the photos (<collection>/<id>) and
	// SHA256s the photos, in the finding's order.
	Records []string `json:"records"`
	SHA256s []string `json:"sha256s"`
	// Measure is the figure behind the finding, worded: hash bits, a time
	// difference or a distance.
	Measure string `json:"measure"`
}

// FindingKind implements rules.Finding.
func (f PhotoFinding) FindingKind() rules.Kind { return f.Kind }

// FindingArea implements rules.Finding.
func (f PhotoFinding) FindingArea() string { return f.Area }

// NewPhotoFinding places a finding of assets/findings in the area tree:
// area is the village it is counted under (the server takes the first of
// its households within the report's scope), records and shas the
// citations of its photos, in the finding's order.
func NewPhotoFinding(f findings.Finding, area string, records, shas []string) PhotoFinding {
	out := PhotoFinding{Kind: rules.Kind(f.Kind), Area: area, Title: f.Title, Detail: f.Detail,
		HouseholdIDs: slices.Clone(f.HouseholdIDs), CaseID: f.CaseID, Records: slices.Clone(records), SHA256s: slices.Clone(shas)}
	switch f.Kind {
	case findings.ReusedPhoto:
		out.Measure = fmt.Sprintf("感知哈希相差%d位", f.HashBits)
		if f.HashBits > 0 {
			out.Kind = KindNearCopyPhoto
		}
		out.Title = Title(out.Kind)
	case findings.EXIFTimeMismatch, findings.AfterBeforeBefore, findings.OldPhoto:
		out.Measure = wordSpan(f.Delta)
	case findings.EXIFGPSMismatch, findings.BeforeAfterFarApart:
		out.Measure = fmt.Sprintf("%.0f米", f.Metres)
	}
	if out.HouseholdIDs == nil {
		out.HouseholdIDs = []string{}
	}
	return out
}

// wordSpan writes a duration in zh-CN days, hours and minutes, its sign
// dropped (the detail says which way it goes).
func wordSpan(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	days, hours, minutes := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%d天%d小时", days, hours)
	case hours > 0:
		return fmt.Sprintf("%d小时%d分钟", hours, minutes)
	}
	return fmt.Sprintf("%d分钟", minutes)
}

// Extra holds the findings the rules do not compute from rules.Input,
// read by the server from its stores: doubtful photo evidence, the
// rectification ledger (its overdue items become findings at the report's
// AsOf) and exit cases whose household no longer meets the standards.
type Extra struct {
	Photos []PhotoFinding
	Ledger []rules.LedgerItem
	Exits  []rules.ExitFinding
}

// Lists holds the findings behind a report's counts, one list per kind:
// the field rules' lists (rules.Findings, whose JSON members stay at the
// top level) and the lists Add brings.
type Lists struct {
	rules.Findings
	ReusedPhoto         []PhotoFinding        `json:"reused_photo"`
	NearCopyPhoto       []PhotoFinding        `json:"near_copy_photo"`
	EXIFTimeMismatch    []PhotoFinding        `json:"exif_time_mismatch"`
	EXIFGPSMismatch     []PhotoFinding        `json:"exif_gps_mismatch"`
	OldPhoto            []PhotoFinding        `json:"old_photo"`
	AfterBeforeBefore   []PhotoFinding        `json:"after_before_before"`
	BeforeAfterFarApart []PhotoFinding        `json:"before_after_far_apart"`
	LedgerOverdue       []rules.LedgerFinding `json:"ledger_overdue"`
	ExitStandardsUnmet  []rules.ExitFinding   `json:"exit_standards_unmet"`
}

// Photos returns the list of one photo kind, nil for another kind.
func (l *Lists) Photos(k rules.Kind) *[]PhotoFinding {
	switch k {
	case KindReusedPhoto:
		return &l.ReusedPhoto
	case KindNearCopyPhoto:
		return &l.NearCopyPhoto
	case KindEXIFTimeMismatch:
		return &l.EXIFTimeMismatch
	case KindEXIFGPSMismatch:
		return &l.EXIFGPSMismatch
	case KindOldPhoto:
		return &l.OldPhoto
	case KindAfterBeforeBefore:
		return &l.AfterBeforeBefore
	case KindBeforeAfterFarApart:
		return &l.BeforeAfterFarApart
	}
	return nil
}

// Add counts the extra findings under the report's scope into its tree
// and lists, masked like every other list; findings outside the scope are
// left out. Photo findings of an unknown kind are left out too. Add
// changes the report in place and adding again counts again: call it once,
// on a report of your own (never on one a cache hands to other readers).
func (r *Report) Add(x Extra) {
	t := tree{root: r.Summary, nodes: map[string]*Node{}}
	r.Summary.Walk(func(n *Node, _ int) { t.nodes[n.Code] = n })
	l := &r.Lists
	byKind := map[rules.Kind][]PhotoFinding{}
	for _, f := range x.Photos {
		byKind[f.Kind] = append(byKind[f.Kind], f)
	}
	for _, k := range PhotoKinds() {
		list := l.Photos(k)
		*list = append(*list, keep(&t, r.Area, byKind[k], func(f *PhotoFinding) {
			f.Detail = maskText(f.Detail)
			f.HouseholdIDs = maskAll(f.HouseholdIDs)
			f.CaseID = maskText(f.CaseID)
			f.Records = maskAll(f.Records)
		})...)
	}
	l.LedgerOverdue = append(l.LedgerOverdue, keep(&t, r.Area, rules.OverdueLedgerItems(x.Ledger, r.AsOf), func(f *rules.LedgerFinding) {
		f.Problem = maskText(f.Problem)
	})...)
	l.ExitStandardsUnmet = append(l.ExitStandardsUnmet, keep(&t, r.Area, x.Exits, func(f *rules.ExitFinding) {
		f.HouseholdID, f.HeadName = maskText(f.HouseholdID), maskText(f.HeadName)
		unmet := slices.Clone(f.Unmet)
		for i := range unmet {
			unmet[i].Detail = maskText(unmet[i].Detail)
			unmet[i].RecordIDs = maskAll(unmet[i].RecordIDs)
		}
		f.Unmet = unmet
	})...)
	for _, n := range t.nodes {
		slices.SortFunc(n.Children, func(a, b *Node) int { return cmp.Compare(a.Code, b.Code) })
	}
}

// unmetText words an exit finding's unmet standards for a cell.
func unmetText(u []rules.UnmetStandard) string {
	return strings.TrimSpace(rules.UnmetSummary(u))
}

package rules

import (
	"sort"
	"strings"
	"time"
)

// LedgerStatus is where a rectification ledger item (问题台账) stands. The
// values are stable codes stored in ledger_items records.
type LedgerStatus string

// Ledger statuses, in lifecycle order.
const (
	LedgerOpen      LedgerStatus = "open"      // 待整改
	LedgerRectified LedgerStatus = "rectified" // 已整改待核验
	LedgerVerified  LedgerStatus = "verified"  // 已核验
	LedgerClosed    LedgerStatus = "closed"    // 已销号
)

// Title returns the status in Chinese, as the ledger sheet shows it.
func (s LedgerStatus) Title() string {
	switch s {
	case LedgerOpen:
		return "待整改"
	case LedgerRectified:
		return "已整改待核验"
	case LedgerVerified:
		return "已核验"
	case LedgerClosed:
		return "已销号"
	}
	return string(s)
}

// LedgerSourceInspection is the Source of an item an inspector opened by
// hand; items opened from a finding carry the finding's kind
// ("visit_overdue", "residency_short", "reused_photo", "exit_standard"...).
const LedgerSourceInspection = "inspection"

// LedgerItem is one rectification ledger item, in the terms of the
// rectification lists of [001]: the problem (具体问题), the measures (整改
// 措施), the responsible unit (责任单位) and person, the deadline (整改期限)
// and the status, plus who rectified, verified and closed it.
type LedgerItem struct {
	ID   string
	Area string
	// Source and SourceRef say what opened the item: a finding kind and the
	// record it names, or LedgerSourceInspection.
	Source, SourceRef string
	Category          string // 问题类别, optional
	Problem           string
	Goal              string // 整改目标, optional
	Measures          string
	ResponsibleUnit   string
	ResponsiblePerson string
	Deadline          Date
	Status            LedgerStatus
	OpenedBy          string
	OpenedAt          time.Time
	// Evidence cites the rectification evidence: photo or document blobs
	// (sha256) and record ids.
	Evidence    []string
	RectifiedBy string
	RectifiedAt time.Time
	VerifiedBy  string
	VerifiedAt  time.Time
	// VerifyNote explains a failed verification (the item is open again).
	VerifyNote string
	ClosedBy   string
	ClosedAt   time.Time
}

// Stable codes of refused ledger changes.
const (
	CodeLedgerWrongRole       = "ledger_wrong_role"
	CodeLedgerBadTransition   = "ledger_bad_transition"
	CodeLedgerIncomplete      = "ledger_incomplete"
	CodeLedgerSameUser        = "ledger_same_user"
	CodeLedgerWrongUser       = "ledger_wrong_user"
	CodeLedgerLifecycleFields = "ledger_lifecycle_fields"
)

// Sentinels for errors.Is on CheckLedgerChange's errors.
var (
	ErrLedgerWrongRole     = &StepError{Code: CodeLedgerWrongRole}
	ErrLedgerBadTransition = &StepError{Code: CodeLedgerBadTransition}
	ErrLedgerIncomplete    = &StepError{Code: CodeLedgerIncomplete}
	ErrLedgerSameUser      = &StepError{Code: CodeLedgerSameUser}
	ErrLedgerWrongUser     = &StepError{Code: CodeLedgerWrongUser}
)

// CheckLedgerChange decides whether a ledger item may go from before (nil
// when the op creates it) to after, the record the op would leave, when
// written by user with role. The lifecycle is:
//
//   - open: created by a township or county user (an inspector), or from
//     a finding, naming the problem, responsible unit and deadline,
//     with opened_by the user;
//   - open → rectified: by the responsible side (officer, team member or
//     township user) with measures and at least one piece of evidence,
//     rectified_by the user;
//   - rectified → verified, or back to open with a verify note: by a
//     township or county user other than the rectifier;
//   - verified → closed (销号): by a county user other than the rectifier;
//   - any other status change is refused; a change that keeps the status
//     may edit problem, measures, responsible unit/person and deadline
//     while open (township or county), never the lifecycle fields.
//
// It returns nil or a *StepError with a ledger_* code.
func CheckLedgerChange(before *LedgerItem, after LedgerItem, user string, role Role) error {
	// Auditors stay read-only (DESIGN.md); the county poverty office keeps
	// the ledger and township staff re-check their villages.
	inspector := role == RoleTownship || role == RoleCounty
	if before == nil {
		switch {
		case !inspector:
			return stepErr(CodeLedgerWrongRole, "只有乡镇或县级用户可以建立问题台账，%s不能", roleTitle(role))
		case after.Status != LedgerOpen:
			return stepErr(CodeLedgerBadTransition, "新建的台账问题须为待整改")
		case blank(after.Problem) || blank(after.ResponsibleUnit) || after.Deadline.IsZero():
			return stepErr(CodeLedgerIncomplete, "台账问题须写明具体问题、责任单位和整改期限")
		case after.OpenedBy != user:
			return stepErr(CodeLedgerWrongUser, "建立人须为当前用户")
		}
		return nil
	}
	if after.OpenedBy != before.OpenedBy || !after.OpenedAt.Equal(before.OpenedAt) {
		return stepErr(CodeLedgerLifecycleFields, "不能修改建立人和建立时间")
	}
	from, to := before.Status, after.Status
	switch {
	case from == to:
		if after.RectifiedBy != before.RectifiedBy || after.VerifiedBy != before.VerifiedBy || after.ClosedBy != before.ClosedBy {
			return stepErr(CodeLedgerLifecycleFields, "整改人、核验人和销号人只能随状态变化填写")
		}
		if from != LedgerOpen {
			return stepErr(CodeLedgerBadTransition, "%s的台账问题不能修改", from.Title())
		}
		if role != RoleTownship && role != RoleCounty {
			return stepErr(CodeLedgerWrongRole, "只有乡镇或县级用户可以修改待整改问题")
		}
		if blank(after.Problem) || blank(after.ResponsibleUnit) || after.Deadline.IsZero() {
			return stepErr(CodeLedgerIncomplete, "台账问题须写明具体问题、责任单位和整改期限")
		}
		return nil
	case from == LedgerOpen && to == LedgerRectified:
		switch {
		case role != RoleOfficer && role != RoleTeamMember && role != RoleTownship:
			return stepErr(CodeLedgerWrongRole, "整改由责任方（帮扶干部、驻村工作队或乡镇）填报，%s不能", roleTitle(role))
		case after.RectifiedBy != user:
			return stepErr(CodeLedgerWrongUser, "整改人须为当前用户")
		case blank(after.Measures) || len(after.Evidence) == 0:
			return stepErr(CodeLedgerIncomplete, "整改须写明整改措施并附整改佐证材料")
		}
		return nil
	case from == LedgerRectified && (to == LedgerVerified || to == LedgerOpen):
		switch {
		case !inspector:
			return stepErr(CodeLedgerWrongRole, "核验须由乡镇或县级用户进行，%s不能", roleTitle(role))
		case after.VerifiedBy != user:
			return stepErr(CodeLedgerWrongUser, "核验人须为当前用户")
		case user == before.RectifiedBy:
			return stepErr(CodeLedgerSameUser, "整改人不能核验自己的整改")
		case to == LedgerOpen && blank(after.VerifyNote):
			return stepErr(CodeLedgerIncomplete, "核验未通过须写明原因")
		}
		return nil
	case from == LedgerVerified && to == LedgerClosed:
		switch {
		case role != RoleCounty:
			return stepErr(CodeLedgerWrongRole, "销号须由县级用户办理，%s不能", roleTitle(role))
		case after.ClosedBy != user:
			return stepErr(CodeLedgerWrongUser, "销号人须为当前用户")
		case user == before.RectifiedBy:
			return stepErr(CodeLedgerSameUser, "整改人不能为自己的整改销号")
		}
		return nil
	}
	return stepErr(CodeLedgerBadTransition, "台账问题不能从%s变为%s", from.Title(), to.Title())
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// KindLedgerOverdue is the finding kind of an overdue ledger item. It is
// not among Kinds(): reports add the ledger lists on their own.
const KindLedgerOverdue Kind = "ledger_overdue"

// LedgerFinding is a ledger item not rectified by its deadline.
type LedgerFinding struct {
	Kind              Kind         `json:"kind"`
	Area              string       `json:"area"`
	ItemID            string       `json:"item_id"`
	Problem           string       `json:"problem"`
	ResponsibleUnit   string       `json:"responsible_unit"`
	ResponsiblePerson string       `json:"responsible_person"`
	Deadline          Date         `json:"deadline"`
	Status            LedgerStatus `json:"status"`
	DaysOverdue       int          `json:"days_overdue"`
}

// FindingKind implements Finding.
func (f LedgerFinding) FindingKind() Kind { return f.Kind }

// FindingArea implements Finding.
func (f LedgerFinding) FindingArea() string { return f.Area }

// OverdueLedgerItems lists the items still open (not rectified) on a date
// after their deadline: an item is due by the end of its deadline day, so
// it is overdue from the next day. Sorted by days overdue, most first, then
// item id.
func OverdueLedgerItems(items []LedgerItem, asOf time.Time) []LedgerFinding {
	today := DateOf(asOf)
	var out []LedgerFinding
	for _, it := range items {
		if it.Status != LedgerOpen || it.Deadline.IsZero() || !it.Deadline.Before(today) {
			continue
		}
		out = append(out, LedgerFinding{Kind: KindLedgerOverdue, Area: it.Area, ItemID: it.ID, Problem: it.Problem,
			ResponsibleUnit: it.ResponsibleUnit, ResponsiblePerson: it.ResponsiblePerson, Deadline: it.Deadline,
			Status: it.Status, DaysOverdue: today.DaysSince(it.Deadline)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].DaysOverdue != out[j].DaysOverdue {
			return out[i].DaysOverdue > out[j].DaysOverdue
		}
		return out[i].ItemID < out[j].ItemID
	})
	return out
}

package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Role is a ruhu user role, as server/auth names it. The rules take it as
// a plain value so they import nothing of the server.
type Role string

// Roles that take part in procedures.
const (
	RoleOfficer    Role = "officer"
	RoleTeamMember Role = "team_member"
	RoleTownship   Role = "township"
	RoleCounty     Role = "county"
	RoleAuditor    Role = "auditor"
	RoleAdmin      Role = "admin"
)

// ExitStepKind is a step of the household exit procedure (贫困户脱贫程序
// [000]). The values are stable codes, stored in exit_steps records.
type ExitStepKind string

// Steps, in the order the procedure requires them; StepObjection may come
// only while a notice runs.
const (
	StepAppraisal          ExitStepKind = "appraisal"           // 村两委组织民主评议
	StepVerification       ExitStepKind = "verification"        // 村两委和驻村工作队核实
	StepAcknowledgement    ExitStepKind = "acknowledgement"     // 拟退出贫困户认可（签字）
	StepVillageNotice      ExitStepKind = "village_notice"      // 村内公示
	StepTownshipReview     ExitStepKind = "township_review"     // 乡镇审核
	StepTownshipNotice     ExitStepKind = "township_notice"     // 审核意见村内公示
	StepTownshipApproval   ExitStepKind = "township_approval"   // 乡镇审定并公告
	StepCountyRegistration ExitStepKind = "county_registration" // 县级备案标注
	StepObjection          ExitStepKind = "objection"           // 公示期间异议
)

// ExitSteps returns the steps of the procedure in order (objections apart).
func ExitSteps() []ExitStepKind {
	return []ExitStepKind{StepAppraisal, StepVerification, StepAcknowledgement, StepVillageNotice,
		StepTownshipReview, StepTownshipNotice, StepTownshipApproval, StepCountyRegistration}
}

// Title returns the step in Chinese.
func (k ExitStepKind) Title() string {
	switch k {
	case StepAppraisal:
		return "民主评议"
	case StepVerification:
		return "村两委和驻村工作队核实"
	case StepAcknowledgement:
		return "拟退出户认可"
	case StepVillageNotice:
		return "村内公示"
	case StepTownshipReview:
		return "乡镇审核"
	case StepTownshipNotice:
		return "审核意见公示"
	case StepTownshipApproval:
		return "乡镇审定公告"
	case StepCountyRegistration:
		return "县级备案标注"
	case StepObjection:
		return "公示异议"
	}
	return string(k)
}

// Roles returns the roles that may record a step. Village steps are recorded
// on tablets by the work team (and the assistance officer for the meeting,
// the household's signature and the notice); verification needs the work
// team [000]; township steps need township staff; registration the county.
// An objection is recorded by the side whose notice runs (see
// CheckExitStep). Auditors and admins record no step.
func (k ExitStepKind) Roles() []Role {
	switch k {
	case StepAppraisal, StepAcknowledgement, StepVillageNotice:
		return []Role{RoleTeamMember, RoleOfficer}
	case StepVerification:
		return []Role{RoleTeamMember}
	case StepTownshipReview, StepTownshipNotice, StepTownshipApproval:
		return []Role{RoleTownship}
	case StepCountyRegistration:
		return []Role{RoleCounty}
	case StepObjection:
		return []Role{RoleTeamMember, RoleOfficer, RoleTownship}
	}
	return nil
}

// Notice is a public notice 公示: when it was posted and when it ends, the
// date as written on the notice, and a photo of the notice board.
type Notice struct {
	PostedAt time.Time
	EndsAt   time.Time
	// DatedAs is the date written on the notice, copied as it reads
	// ("2017年9月30日"); optional. It must be a real calendar date (a notice
	// dated 9月31日 was found [000]) and the posting date.
	DatedAs     string
	PhotoSHA256 string
}

// ExitStep is one recorded step of an exit case (an exit_steps record).
// Only the fields of its kind are read.
type ExitStep struct {
	ID     string
	CaseID string
	Kind   ExitStepKind
	At     time.Time
	Actor  string
	// Appraisal: households entitled to sign (the village group's), those
	// who attended the meeting, and those who signed.
	Entitled, Attended, Signed int
	// Verification: who verified for the village committee (村两委) and for
	// the work team (驻村工作队).
	VillageCommitteeSigner, WorkTeamSigner string
	// Acknowledgement: the household's signature record.
	SignatureID string
	// Village and township notices, and the township's announcement.
	Notice *Notice
	// Township review and approval: whether it passed; a step that does
	// not pass sends the case back with Reason. Objection: whether it was
	// upheld; an upheld objection sends the case back with Reason.
	Passed bool
	Upheld bool
	Reason string
	// County registration: the registration reference (备案文号/系统标注).
	RegistrationRef string
}

// ExitState is an exit case folded from its accepted steps; see ExitStateOf.
type ExitState struct {
	CaseID string
	// Done lists the steps done since the case (re)started, in order.
	Done []ExitStep
	// Returns counts how often the case was sent back; ReturnReason is the
	// latest reason ("" if never).
	Returns      int
	ReturnReason string
	// Objections holds objections recorded and not upheld.
	Objections []ExitStep
	// Standards is the verdict of the exit standards, evaluated by the
	// caller (EvaluateExitStandards) before the first step; it is read
	// only for the first step and may be nil for the others.
	Standards *ExitStandards
}

// Next returns the next step the procedure expects, or "" once registered.
func (s ExitState) Next() ExitStepKind {
	steps := ExitSteps()
	if len(s.Done) >= len(steps) {
		return ""
	}
	return steps[len(s.Done)]
}

// Completed reports whether the county registered the exit.
func (s ExitState) Completed() bool { return s.Next() == "" }

// openNotice is the notice of the last done step, if it is a notice step.
func (s ExitState) openNotice() (ExitStep, bool) {
	if len(s.Done) == 0 {
		return ExitStep{}, false
	}
	last := s.Done[len(s.Done)-1]
	if (last.Kind == StepVillageNotice || last.Kind == StepTownshipNotice) && last.Notice != nil {
		return last, true
	}
	return ExitStep{}, false
}

// Stable codes of refused exit steps (StepError.Code).
const (
	CodeExitOutOfOrder     = "exit_out_of_order"
	CodeExitWrongRole      = "exit_wrong_role"
	CodeExitNoticeTooShort = "exit_notice_too_short"
	CodeExitNoticeRunning  = "exit_notice_running"
	CodeExitStandardsUnmet = "exit_standards_unmet"
	CodeExitSignoffShort   = "exit_signoff_short"
	CodeExitBadDate        = "exit_bad_date"
	CodeExitIncomplete     = "exit_step_incomplete"
	CodeExitCompleted      = "exit_completed"
)

// StepError is why a procedure step (an exit step, a review, a ledger
// change) is refused: a stable Code, a zh-CN
// Reason for the person who recorded it, and for CodeExitStandardsUnmet
// every unmet standard. errors.Is matches StepErrors by Code, so callers
// can test against ErrExitOutOfOrder and the other sentinels.
type StepError struct {
	Code   string
	Reason string
	Unmet  []UnmetStandard
}

// Error implements error.
func (e *StepError) Error() string { return e.Code + ": " + e.Reason }

// Is matches another *StepError with the same code.
func (e *StepError) Is(target error) bool {
	var t *StepError
	return errors.As(target, &t) && t.Code == e.Code
}

// Sentinels for errors.Is, one per code.
var (
	ErrExitOutOfOrder     = &StepError{Code: CodeExitOutOfOrder}
	ErrExitWrongRole      = &StepError{Code: CodeExitWrongRole}
	ErrExitNoticeTooShort = &StepError{Code: CodeExitNoticeTooShort}
	ErrExitNoticeRunning  = &StepError{Code: CodeExitNoticeRunning}
	ErrExitStandardsUnmet = &StepError{Code: CodeExitStandardsUnmet}
	ErrExitSignoffShort   = &StepError{Code: CodeExitSignoffShort}
	ErrExitBadDate        = &StepError{Code: CodeExitBadDate}
	ErrExitIncomplete     = &StepError{Code: CodeExitIncomplete}
	ErrExitCompleted      = &StepError{Code: CodeExitCompleted}
)

func stepErr(code, format string, args ...any) *StepError {
	return &StepError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// CheckExitStep decides whether a step may be recorded on an exit case in
// the given state by a user of the given role, under the case's policy
// (the household's area and the year of the step). It returns nil or a
// *StepError with one of the codes:
//
//   - exit_completed: the county already registered the exit;
//   - exit_wrong_role: the role may not record this step (see Roles);
//   - exit_out_of_order: not the step the procedure expects next, dated
//     before the previous step, or an objection when no notice runs;
//   - exit_notice_running: a step after a notice dated before it ended;
//   - exit_standards_unmet: the first step, with standards not evaluated
//     or unmet (every unmet standard is listed in Unmet);
//   - exit_signoff_short: an appraisal without more than the policy's
//     share of signatures (exactly two-thirds fails by default);
//   - exit_notice_too_short: a notice shorter than the policy's days;
//   - exit_bad_date: a notice dated with a date that does not exist, or
//     not its posting date;
//   - exit_step_incomplete: a field the step needs is missing.
func CheckExitStep(state ExitState, step ExitStep, role Role, p Policy) error {
	if step.Kind == "" || (step.Kind != StepObjection && !slices.Contains(ExitSteps(), step.Kind)) {
		return stepErr(CodeExitIncomplete, "未知的退出步骤：%s", step.Kind)
	}
	if state.Completed() {
		return stepErr(CodeExitCompleted, "该户退出已备案，不能再记录步骤")
	}
	if !slices.Contains(step.Kind.Roles(), role) {
		return stepErr(CodeExitWrongRole, "%s不能由%s记录", step.Kind.Title(), roleTitle(role))
	}
	if step.At.IsZero() {
		return stepErr(CodeExitIncomplete, "%s缺少时间", step.Kind.Title())
	}
	if n := len(state.Done); n > 0 && step.At.Before(state.Done[n-1].At) {
		return stepErr(CodeExitOutOfOrder, "%s的时间早于上一步骤%s", step.Kind.Title(), state.Done[n-1].Kind.Title())
	}
	notice, noticeOpen := state.openNotice()
	if step.Kind == StepObjection {
		if !noticeOpen || !step.At.Before(notice.Notice.EndsAt) {
			return stepErr(CodeExitOutOfOrder, "只能在公示期间记录异议")
		}
		// The village records objections to its own notice; the township to
		// the notice of its review.
		if (notice.Kind == StepVillageNotice) != (role != RoleTownship) {
			return stepErr(CodeExitWrongRole, "%s期间的异议不能由%s记录", notice.Kind.Title(), roleTitle(role))
		}
		if step.Upheld && strings.TrimSpace(step.Reason) == "" {
			return stepErr(CodeExitIncomplete, "异议成立时须写明理由")
		}
		return nil
	}
	if want := state.Next(); step.Kind != want {
		return stepErr(CodeExitOutOfOrder, "应先完成%s，不能记录%s", want.Title(), step.Kind.Title())
	}
	if noticeOpen && step.At.Before(notice.Notice.EndsAt) {
		return stepErr(CodeExitNoticeRunning, "%s尚未结束（%s结束），不能记录%s",
			notice.Kind.Title(), notice.Notice.EndsAt.In(shanghai).Format("2006-01-02 15:04"), step.Kind.Title())
	}
	switch step.Kind {
	case StepAppraisal:
		if len(state.Done) == 0 {
			if state.Standards == nil {
				return stepErr(CodeExitStandardsUnmet, "尚未核定脱贫标准")
			}
			if !state.Standards.Met {
				e := stepErr(CodeExitStandardsUnmet, "未达到脱贫标准：%s", UnmetSummary(state.Standards.Unmet))
				e.Unmet = state.Standards.Unmet
				return e
			}
		}
		return checkSignoff(step, p.Exit)
	case StepVerification:
		if strings.TrimSpace(step.VillageCommitteeSigner) == "" || strings.TrimSpace(step.WorkTeamSigner) == "" {
			return stepErr(CodeExitIncomplete, "核实须由村两委和驻村工作队共同签字")
		}
	case StepAcknowledgement:
		if step.SignatureID == "" {
			return stepErr(CodeExitIncomplete, "缺少拟退出户的签字记录")
		}
	case StepVillageNotice, StepTownshipNotice:
		return checkNotice(step, p.Exit)
	case StepTownshipReview, StepTownshipApproval:
		if !step.Passed && strings.TrimSpace(step.Reason) == "" {
			return stepErr(CodeExitIncomplete, "%s未通过时须写明理由", step.Kind.Title())
		}
	case StepCountyRegistration:
		if strings.TrimSpace(step.RegistrationRef) == "" {
			return stepErr(CodeExitIncomplete, "缺少备案标注编号")
		}
	}
	return nil
}

// UnmetSummary words unmet standards for a person: each standard once, in
// the order given, with the distinct details behind it ("家庭成员未全部参加
// 基本医保（张三未参加基本医疗保险、李四未记录参保情况）"). Two uninsured
// members are two UnmetStandard values but one standard.
func UnmetSummary(unmet []UnmetStandard) string {
	var titles []string
	details := map[string][]string{}
	for _, u := range unmet {
		if _, ok := details[u.Title]; !ok {
			titles = append(titles, u.Title)
			details[u.Title] = nil
		}
		if u.Detail != "" && !slices.Contains(details[u.Title], u.Detail) {
			details[u.Title] = append(details[u.Title], u.Detail)
		}
	}
	parts := make([]string, len(titles))
	for i, t := range titles {
		parts[i] = t
		if d := details[t]; len(d) > 0 {
			parts[i] += "（" + strings.Join(d, "、") + "）"
		}
	}
	return strings.Join(parts, "；")
}

// SignoffMet reports whether signed of entitled signatures reach the
// policy's share: signed/entitled > num/den (or ≥ when not strictly more),
// compared in integers.
func SignoffMet(signed, entitled int, p ExitPolicy) bool {
	if entitled <= 0 || signed < 0 {
		return false
	}
	l, r := int64(signed)*int64(p.SignoffDenominator), int64(p.SignoffNumerator)*int64(entitled)
	if p.SignoffStrictlyMore {
		return l > r
	}
	return l >= r
}

func checkSignoff(step ExitStep, p ExitPolicy) error {
	if step.Entitled <= 0 {
		return stepErr(CodeExitIncomplete, "民主评议须记录应参加户数")
	}
	if step.Attended < 0 || step.Attended > step.Entitled || step.Signed < 0 || step.Signed > step.Attended {
		return stepErr(CodeExitIncomplete, "参会户数不能多于应参加户数，签字户数不能多于参会户数")
	}
	if !SignoffMet(step.Signed, step.Entitled, p) {
		more := "以上"
		if !p.SignoffStrictlyMore {
			more = "及以上"
		}
		return stepErr(CodeExitSignoffShort, "签字户数%d/%d，未达到%d/%d%s", step.Signed, step.Entitled, p.SignoffNumerator, p.SignoffDenominator, more)
	}
	return nil
}

func checkNotice(step ExitStep, p ExitPolicy) error {
	n := step.Notice
	if n == nil || n.PostedAt.IsZero() || n.EndsAt.IsZero() {
		return stepErr(CodeExitIncomplete, "公示须有张贴时间和结束时间")
	}
	if n.PhotoSHA256 == "" {
		return stepErr(CodeExitIncomplete, "公示须有公示栏照片")
	}
	if n.DatedAs != "" {
		d, err := ParseDate(n.DatedAs)
		if err != nil {
			return stepErr(CodeExitBadDate, "公示落款日期“%s”不是真实日期", n.DatedAs)
		}
		if d != DateOf(n.PostedAt) {
			return stepErr(CodeExitBadDate, "公示落款日期%s与张贴日期%s不符", d, DateOf(n.PostedAt))
		}
	}
	if n.PostedAt.After(step.At) {
		return stepErr(CodeExitOutOfOrder, "公示张贴时间晚于记录时间")
	}
	min := time.Duration(p.NoticeDays) * 24 * time.Hour
	if got := n.EndsAt.Sub(n.PostedAt); got < min {
		return stepErr(CodeExitNoticeTooShort, "公示期%s，少于%d天", humanSpan(got), p.NoticeDays)
	}
	return nil
}

// ApplyExitStep returns the state after an accepted step (it does not
// check it: see CheckExitStep). An upheld objection, or a township review
// or approval that did not pass, sends the case back to its start with the
// reason; the first step then needs the standards again.
func ApplyExitStep(s ExitState, step ExitStep) ExitState {
	back := func(reason string) ExitState {
		s.Done, s.Objections = nil, nil
		s.Returns++
		s.ReturnReason = reason
		s.Standards = nil
		return s
	}
	switch {
	case step.Kind == StepObjection && step.Upheld:
		return back(step.Reason)
	case step.Kind == StepObjection:
		s.Objections = append(slices.Clone(s.Objections), step)
		return s
	case (step.Kind == StepTownshipReview || step.Kind == StepTownshipApproval) && !step.Passed:
		return back(step.Reason)
	}
	s.Done = append(slices.Clone(s.Done), step)
	return s
}

// ExitStateOf folds a case's accepted steps, in the order they were
// accepted, into its state. The steps are not checked again.
func ExitStateOf(caseID string, accepted []ExitStep) ExitState {
	s := ExitState{CaseID: caseID}
	for _, st := range accepted {
		s = ApplyExitStep(s, st)
	}
	return s
}

func roleTitle(r Role) string {
	switch r {
	case RoleOfficer:
		return "帮扶干部"
	case RoleTeamMember:
		return "驻村工作队员"
	case RoleTownship:
		return "乡镇用户"
	case RoleCounty:
		return "县级用户"
	case RoleAuditor:
		return "督查人员"
	case RoleAdmin:
		return "管理员"
	}
	return string(r)
}

// humanSpan writes a duration in zh-CN days, hours and minutes.
func humanSpan(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	days, hours, minutes := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	return fmt.Sprintf("%d天%d小时%d分钟", days, hours, minutes)
}

package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/reports"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// ProcedureBackend is what the exit and ledger pages ask of the server:
// the exit cases and ledger items under an area, and the ledger's
// lifecycle through the core's admission of a pushed op, where the rules
// (rules.CheckLedgerChange) refuse, among others, a verification or a
// closing by the user who rectified the item. Scope and role are checked
// there, as the API checks them.
type ProcedureBackend interface {
	// ExitCases lists the household exit cases under area with their
	// accepted steps and the exit standards of their household now.
	ExitCases(ctx context.Context, u User, area string) ([]ExitCase, error)
	// LedgerItems lists the rectification ledger under area, open items
	// first; free text is masked like every report text.
	LedgerItems(ctx context.Context, u User, area string) ([]rules.LedgerItem, error)
	// LedgerAction moves one ledger item: rectify, verify, reject (back
	// to open with a note) or close. A refusal's message starts with its
	// rules code (ledger_same_user …) followed by the zh-CN reason.
	LedgerAction(ctx context.Context, u User, id string, a LedgerAction) error
}

// ExitCase is one household exit case: its steps in the order they were
// accepted, the state they fold into and its household's exit standards
// evaluated now (identity numbers masked in the details).
type ExitCase struct {
	ID, Area, HouseholdID, HeadName string
	ExitYear                        int
	Steps                           []rules.ExitStep
	State                           rules.ExitState
	Standards                       rules.ExitStandards
}

// Ledger actions (LedgerAction.Action).
const (
	LedgerRectify = "rectify"
	LedgerVerify  = "verify"
	LedgerReject  = "reject"
	LedgerClose   = "close"
)

// LedgerAction is one move of a ledger item from the ledger page.
type LedgerAction struct {
	Action string
	// Measures and Evidence (photo sha256s or record ids) come with a
	// rectification; Note with a verification (required to reject).
	Measures string
	Evidence []string
	Note     string
}

// exitRow is one exit case as the page lays it out.
type exitRow struct {
	Case      ExitCase
	Next      string // title of the step expected next, "" once registered
	Steps     []exitStepRow
	Notices   []exitNotice
	Unmet     []rules.UnmetStandard
	Started   bool
	Completed bool
}

type exitStepRow struct {
	Title, Detail, Actor string
	At                   time.Time
	// Back is true for a step that sent the case back (an upheld objection,
	// a review that did not pass).
	Back bool
}

type exitNotice struct {
	Title            string
	PostedAt, EndsAt time.Time
	Days             string
	DatedAs, Photo   string
}

type exitsData struct {
	Area  string
	Rows  []exitRow
	Unmet int // cases past their first step whose standards are unmet now
}

func (c *Console) exits(w http.ResponseWriter, r *http.Request, rq *request) {
	area, _, err := c.areaAndPeriod(r, rq.User)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	cases, err := c.backend.ExitCases(r.Context(), rq.User, area)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	d := exitsData{Area: area}
	for _, ec := range cases {
		row := exitRow{Case: ec, Next: ec.State.Next().Title(), Completed: ec.State.Completed(), Started: len(ec.State.Done) > 0}
		if row.Completed {
			row.Next = ""
		}
		if !ec.Standards.Met {
			row.Unmet = ec.Standards.Unmet
			if row.Started {
				d.Unmet++
			}
		}
		for _, s := range ec.Steps {
			row.Steps = append(row.Steps, exitStepRow{Title: s.Kind.Title(), Detail: stepDetail(s), Actor: s.Actor, At: s.At,
				Back: (s.Kind == rules.StepObjection && s.Upheld) || ((s.Kind == rules.StepTownshipReview || s.Kind == rules.StepTownshipApproval) && !s.Passed)})
			if n := s.Notice; n != nil {
				row.Notices = append(row.Notices, exitNotice{Title: s.Kind.Title(), PostedAt: n.PostedAt, EndsAt: n.EndsAt,
					Days: noticeSpan(n.EndsAt.Sub(n.PostedAt)), DatedAs: n.DatedAs, Photo: n.PhotoSHA256})
			}
		}
		d.Rows = append(d.Rows, row)
	}
	c.render(w, r, http.StatusOK, "exits", rq, "脱贫退出", d)
}

// stepDetail words what a step recorded.
func stepDetail(s rules.ExitStep) string {
	switch s.Kind {
	case rules.StepAppraisal:
		return fmt.Sprintf("应参加%d户，参会%d户，签字%d户", s.Entitled, s.Attended, s.Signed)
	case rules.StepVerification:
		return fmt.Sprintf("村两委：%s；驻村工作队：%s", s.VillageCommitteeSigner, s.WorkTeamSigner)
	case rules.StepAcknowledgement:
		return "签字记录 " + s.SignatureID
	case rules.StepVillageNotice, rules.StepTownshipNotice:
		if s.Notice != nil {
			return "公示" + noticeSpan(s.Notice.EndsAt.Sub(s.Notice.PostedAt))
		}
	case rules.StepTownshipReview, rules.StepTownshipApproval:
		if s.Passed {
			return "通过"
		}
		return "未通过：" + s.Reason
	case rules.StepObjection:
		if s.Upheld {
			return "异议成立，退回：" + s.Reason
		}
		return "异议不成立" + prefixed("：", s.Reason)
	case rules.StepCountyRegistration:
		return "备案标注 " + s.RegistrationRef
	}
	return ""
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// noticeSpan words a notice's length in days, hours and minutes.
func noticeSpan(d time.Duration) string {
	days, rest := int(d/(24*time.Hour)), d%(24*time.Hour)
	out := fmt.Sprintf("%d天", days)
	if h, m := int(rest/time.Hour), int(rest%time.Hour/time.Minute); h > 0 || m > 0 {
		out += fmt.Sprintf("%d小时%d分钟", h, m)
	}
	return out
}

// ledgerRow is one ledger item with what the caller may do with it.
type ledgerRow struct {
	No          int
	Item        rules.LedgerItem
	Source      string
	DaysOverdue int
	// The forms shown: the role may take that step in principle; the
	// server still judges the user (a rectifier's own verification is
	// refused there).
	CanRectify, CanVerify, CanClose bool
}

type ledgerData struct {
	Area    string
	Rows    []ledgerRow
	Done    string         // "<id>" after a successful action
	Error   string         // the refusal of the last action, worded
	Code    string         // its rules code
	ErrFor  string         // the item it concerns
	Counts  map[string]int // by status code
	Overdue int
}

func (c *Console) ledger(w http.ResponseWriter, r *http.Request, rq *request) {
	area, _, err := c.areaAndPeriod(r, rq.User)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	items, err := c.backend.LedgerItems(r.Context(), rq.User, area)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	q := r.URL.Query()
	d := ledgerData{Area: area, Done: q.Get("done"), Error: q.Get("error"), Code: q.Get("code"), ErrFor: q.Get("item"),
		Counts: map[string]int{}}
	overdue := map[string]int{}
	for _, f := range rules.OverdueLedgerItems(items, c.opts.Now()) {
		overdue[f.ItemID] = f.DaysOverdue
	}
	role := rq.User.Role
	for i, it := range items {
		d.Counts[string(it.Status)]++
		if _, ok := overdue[it.ID]; ok {
			d.Overdue++
		}
		d.Rows = append(d.Rows, ledgerRow{No: i + 1, Item: it, Source: ledgerSource(it), DaysOverdue: overdue[it.ID],
			CanRectify: it.Status == rules.LedgerOpen && role == auth.RoleTownship,
			CanVerify:  it.Status == rules.LedgerRectified && (role == auth.RoleTownship || role == auth.RoleCounty),
			CanClose:   it.Status == rules.LedgerVerified && role == auth.RoleCounty})
	}
	c.render(w, r, http.StatusOK, "ledger", rq, "问题台账", d)
}

// ledgerSource words where an item came from.
func ledgerSource(it rules.LedgerItem) string {
	s := it.Source
	switch {
	case s == rules.LedgerSourceInspection:
		s = "督查发现"
	case reports.Title(rules.Kind(s)) != s:
		s = reports.Title(rules.Kind(s))
	case s == "exit_standard":
		s = "脱贫标准未达"
	}
	return s + prefixed(" ", it.SourceRef)
}

// ledgerAction takes one step of a ledger item and comes back to the
// ledger: with ?done=<id>, or with the refusal worded for the person.
func (c *Console) ledgerAction(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	a := LedgerAction{Action: r.PostFormValue("action"), Measures: strings.TrimSpace(r.PostFormValue("measures")),
		Note: strings.TrimSpace(r.PostFormValue("note"))}
	for _, line := range strings.FieldsFunc(r.PostFormValue("evidence"), func(r rune) bool { return r == '\n' || r == ',' || r == '，' || r == ' ' || r == '\r' }) {
		a.Evidence = append(a.Evidence, strings.TrimSpace(line))
	}
	back := url.Values{}
	if area := r.PostFormValue("area"); area != "" && syncengine.ValidAreaPrefix(area) {
		back.Set("area", area)
	}
	err := c.backend.LedgerAction(r.Context(), rq.User, id, a)
	switch syncengine.ErrorCode(err) {
	case "":
		c.log.Info("console: ledger item moved", "user", rq.User.Username, "item", id, "action", a.Action)
		back.Set("done", id)
	case syncengine.EINVALID, syncengine.EFORBIDDEN, syncengine.ECONFLICT:
		code, reason, ok := strings.Cut(syncengine.ErrorMessage(err), ": ")
		switch {
		case ok && strings.HasPrefix(code, "ledger_"):
		case syncengine.ErrorCode(err) == syncengine.EFORBIDDEN:
			code, reason = "", "您的角色或管辖范围不允许修改问题台账。"
		default:
			code, reason = "", syncengine.ErrorMessage(err)
		}
		back.Set("error", reason)
		back.Set("code", code)
		back.Set("item", id)
	default:
		c.fail(w, r, rq, err)
		return
	}
	http.Redirect(w, r, "/ledger?"+back.Encode()+"#item-"+url.PathEscape(id), http.StatusSeeOther)
}

// ledgerDownload offers the ledger under an area as the workbook of the
// column order of [001] (reports.WriteLedgerXLSX).
func (c *Console) ledgerDownload(w http.ResponseWriter, r *http.Request, rq *request) {
	area, _, err := c.areaAndPeriod(r, rq.User)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	items, err := c.backend.LedgerItems(r.Context(), rq.User, area)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	var buf strings.Builder
	if err := reports.WriteLedgerXLSX(&buf, items, c.opts.Now()); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	name := "问题台账-" + area + ".xlsx"
	// The ledger's problems name households: recorded before it leaves.
	if err := c.backend.RecordExport(r.Context(), rq.User, "ledger", area, "xlsx", name, []byte(buf.String())); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="ledger-%s.xlsx"; filename*=UTF-8''%s`, area, url.PathEscape(name)))
	_, _ = w.Write([]byte(buf.String()))
}

package rules

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/ruhu-dev/ruhu/collection"
)

// Values are a record's or an op's fields as the sync layer carries them
// (syncengine.Op.Set, syncengine.Record.Values): field name → JSON value.
type Values = map[string]json.RawMessage

// Collections whose ops CheckOp judges; every other collection passes.
const (
	CollectionExitSteps   = collection.ExitSteps
	CollectionLedgerItems = collection.LedgerItems
)

// isReviewed reports whether a collection's records carry review states.
func isReviewed(col string) bool {
	switch col {
	case collection.Visits, collection.Checkins, collection.Photos:
		return true
	}
	return false
}

// OpCheck is what the server's push admission knows about one op that
// passed its schema, scope and append-only checks. Before is the record as
// stored (nil when the op creates it); Set the op's fields; User and Role
// the pushing user's. Policy is the policy of the record's area for the
// year of the op (PolicySet.For(op.Area, year of the op's time)).
//
// For an exit step, CaseSteps are the values of the case's steps already
// accepted, in the order they were accepted, and Standards is called (at
// most once, only when the step starts or restarts the case) to evaluate
// the exit standards from the household's records at the step's time.
type OpCheck struct {
	Collection string
	RecordID   string
	Before     Values
	Set        Values
	User       string
	Role       Role
	Policy     Policy
	CaseSteps  []Values
	Standards  func(at time.Time) ExitStandards
}

// CheckOp is the one entry point the push admission calls for the rules
// of the procedures (issue 9), per op, before applying it:
//
//   - exit_steps: CheckExitStep on the case folded from CaseSteps;
//   - ledger_items: CheckLedgerChange from Before to Before+Set;
//   - visits, checkins, photos: CheckReview on the op's review fields.
//
// It returns nil or a *StepError whose Code is stable (exit_*, ledger_*,
// review_*) and whose Reason is zh-CN for the person whose op is refused;
// a value that cannot be read gives CodeExitIncomplete / CodeLedgerIncomplete
// / CodeReviewBadState. Suggested wire codes: exit_wrong_role,
// ledger_wrong_role and review_wrong_role → EFORBIDDEN; exit_out_of_order
// and exit_notice_running → ECONFLICT (another device may have the missing
// step); every other code → EINVALID.
func CheckOp(c OpCheck) error {
	switch {
	case c.Collection == CollectionExitSteps:
		if c.Before != nil {
			return nil // append-only: only annotations follow, none here
		}
		step, err := ExitStepFromValues(c.RecordID, c.Set)
		if err != nil {
			return stepErr(CodeExitIncomplete, "退出步骤无法读取：%v", err)
		}
		steps := make([]ExitStep, 0, len(c.CaseSteps))
		for i, v := range c.CaseSteps {
			s, err := ExitStepFromValues("", v)
			if err != nil {
				return fmt.Errorf("exit case %s step %d as stored: %w", step.CaseID, i, err)
			}
			steps = append(steps, s)
		}
		state := ExitStateOf(step.CaseID, steps)
		if len(state.Done) == 0 && step.Kind == StepAppraisal && c.Standards != nil {
			std := c.Standards(step.At)
			state.Standards = &std
		}
		return CheckExitStep(state, step, c.Role, c.Policy)
	case c.Collection == CollectionLedgerItems:
		after := maps.Clone(c.Before)
		if after == nil {
			after = Values{}
		}
		maps.Copy(after, c.Set)
		next, err := LedgerItemFromValues(c.RecordID, after)
		if err != nil {
			return stepErr(CodeLedgerIncomplete, "台账问题无法读取：%v", err)
		}
		if c.Before == nil {
			return CheckLedgerChange(nil, next, c.User, c.Role)
		}
		prev, err := LedgerItemFromValues(c.RecordID, c.Before)
		if err != nil {
			return fmt.Errorf("ledger item %s as stored: %w", c.RecordID, err)
		}
		return CheckLedgerChange(&prev, next, c.User, c.Role)
	case isReviewed(c.Collection):
		fields := map[string]any{}
		for _, f := range []string{FieldReviewState, FieldReviewComment, FieldReviewedBy, FieldReviewedAt} {
			raw, ok := c.Set[f]
			if !ok {
				continue
			}
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return stepErr(CodeReviewBadState, "审核字段无法读取")
			}
			fields[f] = v
		}
		if _, ok := fields[FieldReviewState]; ok {
			if _, has := fields[FieldReviewComment]; !has && c.Before != nil {
				// A state set without a comment keeps the stored comment.
				var prev string
				_ = json.Unmarshal(c.Before[FieldReviewComment], &prev)
				fields[FieldReviewComment] = prev
			}
		}
		return CheckReview(fields, c.User, c.Role)
	}
	return nil
}

// ReviewResetFields returns the fields the server adds to an accepted op
// on a visit, check-in or photo whose content it changes while the record
// is reviewed: review_state "received" (see ReviewAfterEdit). nil when
// nothing is to be added. Append-only collections accept only annotation
// ops after creation, so today this fires only for non-review annotations;
// it keeps the rule in one place if a reviewed collection becomes mutable.
func ReviewResetFields(collection string, before, set Values) Values {
	if before == nil || !isReviewed(collection) {
		return nil
	}
	var cur string
	_ = json.Unmarshal(before[FieldReviewState], &cur)
	changed := make([]string, 0, len(set))
	for f, v := range set {
		if string(before[f]) != string(v) {
			changed = append(changed, f)
		}
	}
	if _, reset := ReviewAfterEdit(ReviewState(cur), changed); !reset {
		return nil
	}
	return Values{FieldReviewState: json.RawMessage(`"received"`)}
}

// valueReader decodes named fields of Values, keeping the first error.
type valueReader struct {
	v   Values
	err error
}

func (r *valueReader) decode(field string, dst any) {
	raw, ok := r.v[field]
	if !ok || r.err != nil || string(raw) == "null" {
		return
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		r.err = fmt.Errorf("field %s: %w", field, err)
	}
}

func (r *valueReader) str(field string) string {
	var s string
	r.decode(field, &s)
	return s
}

func (r *valueReader) time(field string) time.Time {
	var t time.Time
	r.decode(field, &t)
	return t
}

func (r *valueReader) date(field string) Date {
	var d Date
	r.decode(field, &d)
	return d
}

func (r *valueReader) int(field string) int {
	var n int
	r.decode(field, &n)
	return n
}

func (r *valueReader) bool(field string) bool {
	var b bool
	r.decode(field, &b)
	return b
}

func (r *valueReader) strs(field string) []string {
	var s []string
	r.decode(field, &s)
	return s
}

func (r *valueReader) fen(field string) Fen {
	var f float64
	r.decode(field, &f)
	return YuanToFen(f)
}

// ExitStepFromValues reads an exit_steps record (schemas/json/exit_steps).
func ExitStepFromValues(id string, v Values) (ExitStep, error) {
	r := valueReader{v: v}
	s := ExitStep{ID: id, CaseID: r.str("case_id"), Kind: ExitStepKind(r.str("step")), At: r.time("at"), Actor: r.str("actor"),
		Entitled: r.int("entitled"), Attended: r.int("attended"), Signed: r.int("signed"),
		VillageCommitteeSigner: r.str("village_committee_signer"), WorkTeamSigner: r.str("work_team_signer"),
		SignatureID: r.str("signature_id"), Passed: r.bool("passed"), Upheld: r.bool("upheld"), Reason: r.str("reason"),
		RegistrationRef: r.str("registration_ref")}
	if _, ok := v["notice_posted_at"]; ok {
		s.Notice = &Notice{PostedAt: r.time("notice_posted_at"), EndsAt: r.time("notice_ends_at"),
			DatedAs: r.str("notice_dated_as"), PhotoSHA256: r.str("notice_photo_sha256")}
	}
	if r.err != nil {
		return ExitStep{}, fmt.Errorf("exit step %s: %w", id, r.err)
	}
	return s, nil
}

// LedgerItemFromValues reads a ledger_items record (schemas/json/ledger_items);
// the area is not a field, the caller sets it from the op.
func LedgerItemFromValues(id string, v Values) (LedgerItem, error) {
	r := valueReader{v: v}
	it := LedgerItem{ID: id, Source: r.str("source"), SourceRef: r.str("source_ref"), Category: r.str("category"),
		Problem: r.str("problem"), Goal: r.str("goal"), Measures: r.str("measures"), ResponsibleUnit: r.str("responsible_unit"),
		ResponsiblePerson: r.str("responsible_person"), Deadline: r.date("deadline"), Status: LedgerStatus(r.str("status")),
		OpenedBy: r.str("opened_by"), OpenedAt: r.time("opened_at"),
		Evidence:    append(r.strs("evidence_sha256s"), r.strs("evidence_record_ids")...),
		RectifiedBy: r.str("rectified_by"), RectifiedAt: r.time("rectified_at"), VerifiedBy: r.str("verified_by"),
		VerifiedAt: r.time("verified_at"), VerifyNote: r.str("verify_note"), ClosedBy: r.str("closed_by"), ClosedAt: r.time("closed_at")}
	if r.err != nil {
		return LedgerItem{}, fmt.Errorf("ledger item %s: %w", id, r.err)
	}
	return it, nil
}

// IncomeSurveyFromValues reads an income_surveys record
// (schemas/json/income_surveys) into the categories of ComputeIncome.
func IncomeSurveyFromValues(id string, v Values) (IncomeSurvey, error) {
	r := valueReader{v: v}
	s := IncomeSurvey{ID: id, HouseholdID: r.str("household_id"), IncomeYear: r.str("income_year"),
		SurveyedAt: r.time("surveyed_at"), HouseholdSize: r.int("household_size"),
		Wage:            []Fen{r.fen("wage_migrant_work_yuan"), r.fen("wage_public_job_yuan"), r.fen("wage_other_yuan")},
		Business:        []Fen{r.fen("business_farming_yuan"), r.fen("business_tourism_yuan"), r.fen("business_other_yuan")},
		Property:        []Fen{r.fen("property_land_rent_yuan"), r.fen("property_dividend_yuan"), r.fen("property_other_yuan")},
		Transfer:        []Fen{r.fen("transfer_subsidy_yuan"), r.fen("transfer_dibao_yuan"), r.fen("transfer_pension_yuan"), r.fen("transfer_eco_compensation_yuan"), r.fen("transfer_other_yuan")},
		ProductionCosts: r.fen("production_costs_yuan")}
	if r.err != nil {
		return IncomeSurvey{}, fmt.Errorf("income survey %s: %w", id, r.err)
	}
	return s, nil
}

// ExitMemberFromValues reads a members record for the exit standards.
func ExitMemberFromValues(id string, v Values) (ExitMember, error) {
	r := valueReader{v: v}
	m := ExitMember{ID: id, Name: r.str("name"), BirthDate: r.date("birth_date"), Schooling: r.str("schooling")}
	if _, ok := v["insured"]; ok {
		b := r.bool("insured")
		m.Insured = &b
	}
	if r.err != nil {
		return ExitMember{}, fmt.Errorf("member %s: %w", id, r.err)
	}
	return m, nil
}

// ExitVisitFromValues reads a visits record's time and checklist.
func ExitVisitFromValues(id string, v Values) (ExitVisit, error) {
	r := valueReader{v: v}
	e := ExitVisit{ID: id, At: r.time("visited_at")}
	r.decode("checklist", &e.Checklist)
	if r.err != nil {
		return ExitVisit{}, fmt.Errorf("visit %s: %w", id, r.err)
	}
	return e, nil
}

// ExitHousingCaseFromValues reads a housing_cases record: completed once it
// has an acceptance date. evidenceComplete is the evidence checker's
// verdict on the case (GET /v1/housing_cases/{id}/evidence).
func ExitHousingCaseFromValues(id string, v Values, evidenceComplete bool) (ExitHousingCase, error) {
	r := valueReader{v: v}
	c := ExitHousingCase{ID: id, Completed: !r.date("acceptance_date").IsZero(), EvidenceComplete: evidenceComplete}
	if r.err != nil {
		return ExitHousingCase{}, fmt.Errorf("housing case %s: %w", id, r.err)
	}
	return c, nil
}

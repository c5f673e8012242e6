package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// procedureWriters are the roles that may write the collections of the
// exit and rectification procedures (issue 9) at all. Which step, which
// transition and which user is judged per op by rules.CheckOp in the
// write transaction, so the roles here are the union of every step's.
// Auditors stay read-only; admins write every collection (auth.CanWrite),
// and the procedure rules still refuse them steps they have no part in.
var procedureWriters = map[string][]string{
	collection.IncomeSurveys: {auth.RoleOfficer, auth.RoleTeamMember, auth.RoleTownship},
	collection.ExitCases:     {auth.RoleOfficer, auth.RoleTeamMember, auth.RoleTownship, auth.RoleCounty},
	collection.ExitSteps:     {auth.RoleOfficer, auth.RoleTeamMember, auth.RoleTownship, auth.RoleCounty},
	collection.LedgerItems:   {auth.RoleOfficer, auth.RoleTeamMember, auth.RoleTownship, auth.RoleCounty},
}

// canWrite is auth.CanWrite widened by the procedures: the procedure
// collections for the roles that take part in them, and review-only ops
// (every field a review field) on visits, check-ins and photos for
// township and county users, who review evidence they do not record.
func canWrite(role string, op *syncengine.Op) bool {
	if auth.CanWrite(role, op.Collection) || slices.Contains(procedureWriters[op.Collection], role) {
		return true
	}
	if !auth.CanReview(role) {
		return false
	}
	switch op.Collection {
	case collection.Visits, collection.Checkins, collection.Photos:
	default:
		return false
	}
	if op.Tombstone != nil || len(op.Set) == 0 {
		return false
	}
	review := rules.ReviewFields()
	for f := range op.Set {
		if !slices.Contains(review, f) {
			return false
		}
	}
	return true
}

// policies returns the policy set the procedures are judged under.
func (c *Core) policies() (*rules.PolicySet, error) {
	if c.opts.Policies != nil {
		return c.opts.Policies, nil
	}
	return nil, errors.New("no policies: the shipped defaults did not load")
}

// checkProcedure runs rules.CheckOp on an op inside the write transaction
// that would apply it, with the record as stored, the case's accepted
// steps and the household's records read from tx. A refusal is a
// syncengine error whose message starts with the rules' stable code
// (exit_*, ledger_*, review_*) followed by its zh-CN reason.
func (c *Core) checkProcedure(tx Tx, caller Caller, op *syncengine.Op, cur *syncengine.Record) error {
	switch op.Collection {
	case rules.CollectionExitSteps, rules.CollectionLedgerItems, collection.Visits, collection.Checkins, collection.Photos:
	default:
		return nil
	}
	ps, err := c.policies()
	if err != nil {
		return fmt.Errorf("procedure policies: %w", err)
	}
	at := c.opts.Now()
	if !op.DeviceTime.IsZero() {
		at = op.DeviceTime
	}
	chk := rules.OpCheck{Collection: op.Collection, RecordID: op.RecordID, Set: op.Set,
		User: caller.User, Role: rules.Role(caller.Role)}
	if op.Collection == rules.CollectionExitSteps {
		// Only exit steps are judged by the area's figures, and laying the
		// policy files over each other decodes YAML: other ops (every
		// visit, check-in and photo) skip it.
		chk.Policy = ps.For(op.Area, at.In(rules.Shanghai()).Year())
	}
	if cur != nil {
		chk.Before = cur.Values()
	}
	if op.Collection == rules.CollectionExitSteps && cur == nil {
		var caseID, household string
		_ = json.Unmarshal(op.Set["case_id"], &caseID)
		_ = json.Unmarshal(op.Set["household_id"], &household)
		if chk.CaseSteps, err = caseSteps(tx, caseID); err != nil {
			return err
		}
		var stdErr error
		chk.Standards = func(at time.Time) rules.ExitStandards {
			var recs rules.ExitRecords
			recs, stdErr = c.exitRecords(tx, household, op.Area)
			// An unreadable stored record is an internal failure, not an
			// unmet standard: the op is not judged on it.
			return rules.EvaluateExitStandards(recs, ps.For(op.Area, at.In(rules.Shanghai()).Year()), at)
		}
		err = rules.CheckOp(chk)
		if stdErr != nil {
			return stdErr
		}
	} else {
		err = rules.CheckOp(chk)
	}
	return procedureErr(err)
}

// procedureErr maps a rules refusal to a wire error with the codes
// suggested by rules.CheckOp: a wrong role is EFORBIDDEN, a step that may
// still arrive from another device ECONFLICT, anything else EINVALID.
// Other errors (a stored record that cannot be read) pass unchanged.
func procedureErr(err error) error {
	var se *rules.StepError
	if err == nil || !errors.As(err, &se) {
		return err
	}
	code := syncengine.EINVALID
	switch se.Code {
	case rules.CodeExitWrongRole, rules.CodeLedgerWrongRole, rules.CodeReviewWrongRole:
		code = syncengine.EFORBIDDEN
	case rules.CodeExitOutOfOrder, rules.CodeExitNoticeRunning:
		code = syncengine.ECONFLICT
	}
	return syncengine.Errorf(code, "%s: %s", se.Code, se.Reason)
}

// caseSteps returns the values of an exit case's accepted steps in the
// order they were accepted (their first op's receive time, then stamp).
func caseSteps(tx Tx, caseID string) ([]rules.Values, error) {
	type step struct {
		v   rules.Values
		rec time.Time
		hlc syncengine.HLC
	}
	var steps []step
	err := tx.ForEachRecord(rules.CollectionExitSteps, func(r *syncengine.Record) error {
		v := r.Values()
		if !jsonStringIs(v["case_id"], caseID) {
			return nil
		}
		if del, _ := r.Deleted(); del {
			return nil
		}
		h, err := tx.History(rules.CollectionExitSteps, r.ID)
		if err != nil {
			return err
		}
		s := step{v: v}
		if len(h) > 0 {
			s.rec, s.hlc = h[0].ReceivedAt, h[0].HLC
		}
		steps = append(steps, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read steps of exit case %s: %w", caseID, err)
	}
	sort.SliceStable(steps, func(i, j int) bool {
		if !steps[i].rec.Equal(steps[j].rec) {
			return steps[i].rec.Before(steps[j].rec)
		}
		return steps[i].hlc < steps[j].hlc
	})
	out := make([]rules.Values, len(steps))
	for i, s := range steps {
		out[i] = s.v
	}
	return out, nil
}

// exitRecords reads what the exit standards of a household are evaluated
// from: its members, income surveys, visits and housing cases. A housing
// case's evidence is judged by Options.HousingEvidence; without one a
// completed case counts as lacking evidence, so the standard is never
// passed on evidence nobody checked.
func (c *Core) exitRecords(tx Tx, household, area string) (rules.ExitRecords, error) {
	out := rules.ExitRecords{HouseholdID: household, Area: area}
	each := func(col string, fn func(id string, v rules.Values, r *syncengine.Record) error) error {
		return tx.ForEachRecord(col, func(r *syncengine.Record) error {
			v := r.Values()
			if del, _ := r.Deleted(); del || !jsonStringIs(v["household_id"], household) {
				return nil
			}
			return fn(r.ID, v, r)
		})
	}
	err := each(collection.Members, func(id string, v rules.Values, _ *syncengine.Record) error {
		m, err := rules.ExitMemberFromValues(id, v)
		out.Members = append(out.Members, m)
		return err
	})
	if err == nil {
		err = each(collection.IncomeSurveys, func(id string, v rules.Values, _ *syncengine.Record) error {
			s, err := rules.IncomeSurveyFromValues(id, v)
			out.Surveys = append(out.Surveys, s)
			return err
		})
	}
	if err == nil {
		err = each(collection.Visits, func(id string, v rules.Values, _ *syncengine.Record) error {
			e, err := rules.ExitVisitFromValues(id, v)
			out.Visits = append(out.Visits, e)
			return err
		})
	}
	if err == nil {
		err = each(collection.HousingCases, func(id string, v rules.Values, r *syncengine.Record) error {
			complete := false
			if c.opts.HousingEvidence != nil {
				var err error
				if complete, err = c.opts.HousingEvidence(tx, r); err != nil {
					return fmt.Errorf("housing case %s evidence: %w", id, err)
				}
			}
			h, err := rules.ExitHousingCaseFromValues(id, v, complete)
			out.HousingCases = append(out.HousingCases, h)
			return err
		})
	}
	if err != nil {
		return rules.ExitRecords{}, fmt.Errorf("exit standards of household %s: %w", household, err)
	}
	return out, nil
}

// reviewResetOp returns the op the server adds after an accepted op that
// edits the content of a reviewed record (rules.ReviewResetFields): it
// sets review_state back to "received" so the edit is reviewed again. It
// is an op of its own, stamped after the edit, so the tablet's op is
// stored exactly as sent (a resend still matches its digest). nil when
// nothing is to be reset.
func (c *Core) reviewResetOp(op *syncengine.Op, cur *syncengine.Record, now time.Time) *syncengine.Op {
	if cur == nil {
		return nil
	}
	add := rules.ReviewResetFields(op.Collection, cur.Values(), op.Set)
	if len(add) == 0 {
		return nil
	}
	c.clock.Observe(op.HLC)
	return &syncengine.Op{ID: "rv-" + op.ID, RecordID: op.RecordID, Collection: op.Collection, Area: op.Area,
		Author: op.Author, Device: "server", HLC: c.clock.Now(), Set: add, ReceivedAt: now.UTC()}
}

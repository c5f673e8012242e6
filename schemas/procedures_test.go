package schemas_test

import (
	"testing"

	"github.com/ruhu-dev/ruhu/schemas"
)

// TestProcedureCollectionsRefuse covers the collections of the exit and
// review procedures: money to the fen, real dates, the income year rule and
// the review state vocabulary.
func TestProcedureCollectionsRefuse(t *testing.T) {
	r := newRegistry(t)
	tests := []fieldCase{
		{"income in tenths of a fen", "income_surveys", map[string]string{"wage_migrant_work_yuan": `100.001`}, "wage_migrant_work_yuan", schemas.ErrInvalidValue},
		{"negative production costs", "income_surveys", map[string]string{"production_costs_yuan": `-1`}, "production_costs_yuan", schemas.ErrInvalidValue},
		{"household of nobody", "income_surveys", map[string]string{"household_size": `0`}, "household_size", schemas.ErrInvalidValue},
		{"income year not consecutive", "income_surveys", map[string]string{"income_year": `"2024-2026"`}, "income_year", schemas.ErrInvalidValue},
		{"unknown exit step", "exit_steps", map[string]string{"step": `"skip_to_end"`}, "step", schemas.ErrInvalidValue},
		{"notice ending on 9月31日", "exit_steps", map[string]string{"notice_ends_at": `"2025-09-31T08:30:00+08:00"`}, "notice_ends_at", schemas.ErrInvalidValue},
		{"ledger deadline 9月31日", "ledger_items", map[string]string{"deadline": `"2025-09-31"`}, "deadline", schemas.ErrInvalidValue},
		{"ledger status", "ledger_items", map[string]string{"status": `"done"`}, "status", schemas.ErrInvalidValue},
		{"visit review state", "visits", map[string]string{"review_state": `"confirmed"`}, "review_state", schemas.ErrInvalidValue},
		{"photo review state", "photos", map[string]string{"review_state": `"ok"`}, "review_state", schemas.ErrInvalidValue},
		{"check-in reviewer", "checkins", map[string]string{"reviewed_by": `"two words"`}, "reviewed_by", schemas.ErrInvalidValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := edit(full(t, tc.collection), tc.set)
			assertFieldError(t, "ValidateRecord", r.ValidateRecord(tc.collection, rec), tc.collection, tc.wantField, tc.wantErr)
		})
	}
	ok := edit(full(t, "income_surveys"), map[string]string{"wage_migrant_work_yuan": `100.01`, "income_year": `"2016-2017"`})
	if err := r.ValidateRecord("income_surveys", ok); err != nil {
		t.Errorf("fen amount refused: %v", err)
	}
}

// TestReviewFieldsAreAnnotations: a township user can review a visit, a
// check-in or a photo after it was created, but not change what it holds.
func TestReviewFieldsAreAnnotations(t *testing.T) {
	r := newRegistry(t)
	for _, c := range []string{"visits", "checkins", "photos"} {
		p := r.Policy(c)
		for _, f := range []string{"review_state", "review_comment", "reviewed_by", "reviewed_at"} {
			if !p.MaySetAfterCreate(f) {
				t.Errorf("%s.%s is not an annotation", c, f)
			}
		}
	}
	if r.Policy("photos").MaySetAfterCreate("recorded_at") {
		t.Error("photos.recorded_at may change after creation")
	}
	if r.Policy("exit_steps").MaySetAfterCreate("step") {
		t.Error("an exit step may change after it was recorded")
	}
}

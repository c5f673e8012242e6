package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ReviewState is the review state of an evidence record (a visit, a
// check-in or a photo), as ODK Central keeps one per submission. The
// values are stable codes stored in the record's review_state annotation.
type ReviewState string

// Review states. A record nobody reviewed yet is received; the empty state
// (older records) reads as received.
const (
	ReviewReceived  ReviewState = "received"   // 待审核
	ReviewHasIssues ReviewState = "has_issues" // 存在问题
	ReviewApproved  ReviewState = "approved"   // 审核通过
	ReviewRejected  ReviewState = "rejected"   // 不予认可
)

// Title returns the state in Chinese.
func (s ReviewState) Title() string {
	switch s {
	case ReviewReceived, "":
		return "待审核"
	case ReviewHasIssues:
		return "存在问题"
	case ReviewApproved:
		return "审核通过"
	case ReviewRejected:
		return "不予认可"
	}
	return string(s)
}

// Review annotation fields of visits, check-ins and photos (their schemas
// declare them as annotations). ReviewFields also lists the older 复核
// annotations, which are review too and never count as an edit.
const (
	FieldReviewState   = "review_state"
	FieldReviewComment = "review_comment"
	FieldReviewedBy    = "reviewed_by"
	FieldReviewedAt    = "reviewed_at"
)

// ReviewFields returns every field that belongs to review rather than to
// the record's content.
func ReviewFields() []string {
	return []string{FieldReviewState, FieldReviewComment, FieldReviewedBy, FieldReviewedAt, "review_status", "review_note"}
}

// Stable codes of refused reviews.
const (
	CodeReviewWrongRole      = "review_wrong_role"
	CodeReviewCommentMissing = "review_comment_missing"
	CodeReviewBadState       = "review_bad_state"
	CodeReviewWrongReviewer  = "review_wrong_reviewer"
)

// Sentinels for errors.Is on CheckReview's errors.
var (
	ErrReviewWrongRole      = &StepError{Code: CodeReviewWrongRole}
	ErrReviewCommentMissing = &StepError{Code: CodeReviewCommentMissing}
	ErrReviewBadState       = &StepError{Code: CodeReviewBadState}
	ErrReviewWrongReviewer  = &StepError{Code: CodeReviewWrongReviewer}
)

// CheckReview decides whether an op that sets review fields may be
// accepted. fields are the op's fields (only review fields are read),
// user and role the pushing user's. Only township and county users review;
// has_issues and rejected need a comment; reviewed_by, when set, must be
// the user. It returns nil or a *StepError with a review_* code. An op
// setting no review field is not a review and passes.
func CheckReview(fields map[string]any, user string, role Role) error {
	touched := false
	for _, f := range []string{FieldReviewState, FieldReviewComment, FieldReviewedBy, FieldReviewedAt} {
		if _, ok := fields[f]; ok {
			touched = true
		}
	}
	if !touched {
		return nil
	}
	if role != RoleTownship && role != RoleCounty {
		return stepErr(CodeReviewWrongRole, "只有乡镇或县级用户可以审核，%s不能审核", roleTitle(role))
	}
	if by, ok := fields[FieldReviewedBy]; ok && by != user {
		return stepErr(CodeReviewWrongReviewer, "审核人须为当前用户")
	}
	raw, ok := fields[FieldReviewState]
	if !ok {
		return nil // a comment alone annotates the current state
	}
	s, _ := raw.(string)
	state := ReviewState(s)
	if !slices.Contains([]ReviewState{ReviewReceived, ReviewHasIssues, ReviewApproved, ReviewRejected}, state) {
		return stepErr(CodeReviewBadState, "未知的审核状态")
	}
	if state == ReviewHasIssues || state == ReviewRejected {
		c, _ := fields[FieldReviewComment].(string)
		if strings.TrimSpace(c) == "" {
			return stepErr(CodeReviewCommentMissing, "%s须填写审核意见", state.Title())
		}
	}
	return nil
}

// ReviewAfterEdit returns the review state a record must take after an op
// that changed the given fields: a record already reviewed (approved, has
// issues or rejected) whose content changes goes back to received, so the
// reviewer looks at what they have not seen; an op changing only review
// fields keeps the state. reset reports whether the state changed; the
// caller then also sets review_state to received in the same transaction.
func ReviewAfterEdit(current ReviewState, changed []string) (next ReviewState, reset bool) {
	if current == "" || current == ReviewReceived {
		return ReviewReceived, false
	}
	review := ReviewFields()
	for _, f := range changed {
		if !slices.Contains(review, f) {
			return ReviewReceived, true
		}
	}
	return current, false
}

// Countable reports whether a record in this review state counts in
// reports under the policy: every record unless the policy counts only
// approved ones.
func Countable(state ReviewState, p ReviewPolicy) bool {
	return !p.CountOnlyApproved || state == ReviewApproved
}

// errReview is returned by ReviewStateOf for a value that is not a state.
var errReview = errors.New("not a review state")

// ReviewStateOf reads a stored review_state value ("" for none).
func ReviewStateOf(v any) (ReviewState, error) {
	if v == nil {
		return ReviewReceived, nil
	}
	s, ok := v.(string)
	st := ReviewState(s)
	if !ok || (st != "" && !slices.Contains([]ReviewState{ReviewReceived, ReviewHasIssues, ReviewApproved, ReviewRejected}, st)) {
		return "", fmt.Errorf("review state %v: %w", v, errReview)
	}
	if st == "" {
		st = ReviewReceived
	}
	return st, nil
}

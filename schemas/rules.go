package schemas

import (
	"fmt"
	"strconv"
	"strings"

	names "github.com/ruhu-dev/ruhu/collection"
)

// crossFieldRule is a rule that JSON Schema cannot express because it
// relates two fields (or the parts of one value). Rules see values that
// already passed the schema, as decoded by jsonschema.UnmarshalJSON:
// string, json.Number, bool, []any, map[string]any.
//
// A rule runs on a patch only when every field it reads is present; on a
// whole record (whole == true) it may also demand presence.
type crossFieldRule struct {
	name   string
	fields []string // every field the rule reads; New checks the schema defines them
	check  func(values map[string]any, whole bool) *FieldError
}

// crossFieldRules lists the Go rules of a collection. Each is documented in
// the collection schema's description too.
//
//   - households: exactly one primary cause 主要致贫原因; the (at most two,
//     unique — enforced by the schema) secondary causes differ from it;
//     income_year "YYYY-YYYY" spans two consecutive years (1 Oct – 30 Sep).
//   - income_surveys: income_year spans two consecutive years.
//   - assignments: end_date is not before start_date.
//   - villages: township_code is the first 9 digits of code.
func crossFieldRules(collection string) []crossFieldRule {
	switch collection {
	case names.Households:
		return []crossFieldRule{
			{name: "one primary cause", fields: []string{"primary_cause"}, check: onePrimaryCause},
			{name: "secondary causes differ from primary", fields: []string{"primary_cause", "secondary_causes"}, check: secondaryCausesDiffer},
			{name: "income year spans consecutive years", fields: []string{"income_year"}, check: incomeYearConsecutive},
		}
	case names.IncomeSurveys:
		return []crossFieldRule{
			{name: "income year spans consecutive years", fields: []string{"income_year"}, check: incomeYearConsecutive},
		}
	case names.Assignments:
		return []crossFieldRule{
			{name: "end not before start", fields: []string{"start_date", "end_date"}, check: endNotBeforeStart},
		}
	case names.Villages:
		return []crossFieldRule{
			{name: "township code prefixes village code", fields: []string{"code", "township_code"}, check: townshipPrefixesCode},
		}
	}
	return nil
}

// checkRules runs the collection's rules in their listed order and returns
// the first violation.
func (c *collection) checkRules(values map[string]any, whole bool) error {
	for _, rule := range c.rules {
		if !whole && !hasAll(values, rule.fields) {
			continue
		}
		if fe := rule.check(values, whole); fe != nil {
			fe.Collection = c.name
			return fe
		}
	}
	return nil
}

func hasAll(values map[string]any, fields []string) bool {
	for _, f := range fields {
		if _, ok := values[f]; !ok {
			return false
		}
	}
	return true
}

func onePrimaryCause(values map[string]any, whole bool) *FieldError {
	if _, ok := values["primary_cause"]; !ok && whole {
		return &FieldError{Field: "primary_cause", Reason: "exactly one primary cause is required", kind: ErrMissingField}
	}
	return nil
}

func secondaryCausesDiffer(values map[string]any, _ bool) *FieldError {
	primary, _ := values["primary_cause"].(string)
	secondary, _ := values["secondary_causes"].([]any)
	if primary == "" {
		return nil // a record without a primary cause is refused by onePrimaryCause
	}
	for _, s := range secondary {
		if s == primary {
			return &FieldError{Field: "secondary_causes", Reason: "repeats the primary cause " + primary, kind: ErrInvalidValue}
		}
	}
	return nil
}

func incomeYearConsecutive(values map[string]any, _ bool) *FieldError {
	s, ok := values["income_year"].(string)
	if !ok {
		return nil
	}
	from, to, found := strings.Cut(s, "-")
	a, errA := strconv.Atoi(from)
	b, errB := strconv.Atoi(to)
	if !found || errA != nil || errB != nil || b != a+1 {
		return &FieldError{Field: "income_year", Reason: "must span two consecutive years, e.g. 2025-2026", kind: ErrInvalidValue}
	}
	return nil
}

func endNotBeforeStart(values map[string]any, _ bool) *FieldError {
	start, _ := values["start_date"].(string)
	end, _ := values["end_date"].(string)
	// Both passed format "date" (YYYY-MM-DD), so text order is date order.
	if start != "" && end != "" && end < start {
		return &FieldError{Field: "end_date", Reason: fmt.Sprintf("is before start_date %s", start), kind: ErrInvalidValue}
	}
	return nil
}

func townshipPrefixesCode(values map[string]any, _ bool) *FieldError {
	code, _ := values["code"].(string)
	township, _ := values["township_code"].(string)
	if code != "" && township != "" && !strings.HasPrefix(code, township) {
		return &FieldError{Field: "township_code", Reason: "is not the first 9 digits of code", kind: ErrInvalidValue}
	}
	return nil
}

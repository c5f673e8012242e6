package fieldapp_test

import (
	"slices"
	"testing"

	"github.com/ruhu-dev/ruhu/client-sdk/fieldapp"
	"github.com/ruhu-dev/ruhu/schemas"
)

// TestIncomeSurveyFormFromSchema: the income survey form is the schema's
// fields in its order, every income item of the formula a number input,
// the household, surveyor and time left to the app.
func TestIncomeSurveyFormFromSchema(t *testing.T) {
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	f, err := fieldapp.BuildForm(reg, "income_surveys")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	widgets := map[string]string{}
	for _, fd := range f.Fields {
		names = append(names, fd.Name)
		widgets[fd.Name] = fd.Widget + " " + fd.Type
	}
	for _, auto := range []string{"household_id", "surveyor", "surveyed_at"} {
		if slices.Contains(names, auto) {
			t.Errorf("%s is drawn; the app fills it", auto)
		}
	}
	want := []string{"income_year", "household_size", "wage_migrant_work_yuan", "wage_public_job_yuan", "wage_other_yuan",
		"business_farming_yuan", "business_tourism_yuan", "business_other_yuan", "property_land_rent_yuan", "property_dividend_yuan",
		"property_other_yuan", "transfer_subsidy_yuan", "transfer_dibao_yuan", "transfer_pension_yuan", "transfer_eco_compensation_yuan",
		"transfer_other_yuan", "production_costs_yuan", "notes"}
	if !slices.Equal(names, want) {
		t.Fatalf("fields %v, want %v", names, want)
	}
	if widgets["household_size"] != "number integer" || widgets["wage_migrant_work_yuan"] != "number number" || widgets["income_year"] != "text string" {
		t.Errorf("widgets %v", widgets)
	}
	// The inputs become the record's typed fields.
	vals, err := f.Values(map[string]string{"income_year": "2025-2026", "household_size": "3", "wage_migrant_work_yuan": "12000.5"})
	if err != nil || string(vals["household_size"]) != "3" || string(vals["wage_migrant_work_yuan"]) != "12000.5" || string(vals["income_year"]) != `"2025-2026"` {
		t.Errorf("values %s %v", vals, err)
	}
}

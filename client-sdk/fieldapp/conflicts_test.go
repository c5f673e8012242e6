package fieldapp

import (
	"encoding/json"
	"testing"

	"github.com/ruhu-dev/ruhu/schemas"
)

// valueText shows a conflict's values as an officer reads them.
func TestValueText(t *testing.T) {
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	field := func(collection, name string) *Field {
		form, err := BuildForm(reg, collection)
		if err != nil {
			t.Fatal(err)
		}
		for i := range form.Fields {
			if form.Fields[i].Name == name {
				return &form.Fields[i]
			}
		}
		t.Fatalf("no field %s in the %s form", name, collection)
		return nil
	}
	status := field("households", "status")
	tests := []struct {
		name  string
		field *Field
		raw   string
		want  string
	}{
		{"a string", field("households", "address"), `"桃园村3组18号"`, "桃园村3组18号"},
		{"absent", field("households", "address"), ``, "（空）"},
		{"null", field("households", "phone"), `null`, "（空）"},
		{"an empty string", field("households", "phone"), `""`, "（空）"},
		{"a number", field("households", "member_count"), `5`, "5"},
		{"an enum shows its label", &status.Fields[0], `"monitored"`, "监测户"},
		{"an unknown enum value shows as is", &status.Fields[0], `"gone"`, "gone"},
		{"a group without telling titles: the status and its year", status, `{"value":"fellback","year":2026}`, "返贫，2026"},
		{"a group with titled members, in the form's order", field("visits", "checklist"),
			`{"housing":"problem","food":"ok"}`, "不愁吃：已保障，住房安全有保障：存在问题"},
		{"a boolean", nil, `true`, "是"},
		{"a list", nil, `["a","b"]`, "a、b"},
		{"an object without a form field", nil, `{"x":1}`, `{"x":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := valueText(tt.field, json.RawMessage(tt.raw)); got != tt.want {
				t.Fatalf("valueText(%s) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

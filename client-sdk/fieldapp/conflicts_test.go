package fieldapp

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/schemas"
)

// The sync screen keeps open conflicts however old, and decided ones for
// 30 days after the decision.
func TestShownConflicts(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	decided := func(ago time.Duration) *client.ConflictResolution {
		return &client.ConflictResolution{At: now.Add(-ago)}
	}
	list := []client.Conflict{
		{ID: "open-old", Status: "open", OpenedAt: now.AddDate(-1, 0, 0)},
		{ID: "decided-yesterday", Status: "resolved", Resolution: decided(24 * time.Hour)},
		{ID: "decided-30-days-ago", Status: "resolved", Resolution: decided(30 * 24 * time.Hour)},
		{ID: "decided-31-days-ago", Status: "resolved", Resolution: decided(31 * 24 * time.Hour)},
	}
	var got []string
	for _, cf := range shownConflicts(list, now) {
		got = append(got, cf.ID)
	}
	if want := []string{"open-old", "decided-yesterday", "decided-30-days-ago"}; !slices.Equal(got, want) {
		t.Fatalf("shown %v, want %v", got, want)
	}
}

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

// A conflict over a member's identity number shows both values masked,
// and the decision too, as the household screen shows the number.
func TestConflictShowsIDNumbersMasked(t *testing.T) {
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Open(filepath.Join(t.TempDir(), "tablet.db"), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a := &App{c: c, reg: reg}
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	cf := client.Conflict{ID: "cf1", Collection: "members", RecordID: "m1", Field: "id_number", Status: "resolved", OpenedAt: at,
		Candidates: []client.ConflictCandidate{
			{Value: json.RawMessage(`"340199196501011234"`), Author: "wang", Time: at, Mine: true, Winner: true},
			{Value: json.RawMessage(`"340199196501015678"`), Author: "li", Time: at},
		},
		Resolution: &client.ConflictResolution{By: "county", At: at, Value: json.RawMessage(`"340199196501015678"`)}}
	v := a.viewConflict(cf)
	got := []string{v.Mine[0].Value, v.Others[0].Value}
	if want := []string{"340***********1234", "340***********5678"}; !slices.Equal(got, want) {
		t.Errorf("values %v, want %v", got, want)
	}
	if strings.Contains(v.StatusLabel, "196501") || !strings.Contains(v.StatusLabel, "340***********5678") {
		t.Errorf("decision %q shows the number unmasked", v.StatusLabel)
	}
}

package rules_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/ruhu-dev/ruhu/rules"
)

// TestStatusLabels: every status the households schema allows has a
// Chinese label of its own, and the constants are exactly those values.
func TestStatusLabels(t *testing.T) {
	raw, err := os.ReadFile("../schemas/json/households.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			Status struct {
				Properties struct {
					Value struct {
						Enum []string `json:"enum"`
					} `json:"value"`
				} `json:"properties"`
			} `json:"status"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		string(rules.StatusPoor): "未脱贫", string(rules.StatusExited): "已脱贫", string(rules.StatusMonitored): "监测户",
		string(rules.StatusFellBack): "返贫", string(rules.StatusRemoved): "已销号",
	}
	enum := schema.Properties.Status.Properties.Value.Enum
	if len(enum) != len(want) {
		t.Errorf("schema statuses %v, constants %v", enum, want)
	}
	for _, v := range enum {
		if got := rules.Status(v).Label(); got != want[v] {
			t.Errorf("Status(%q).Label() = %q, want %q", v, got, want[v])
		}
	}
	if got := rules.Status("unknown").Label(); got != "unknown" {
		t.Errorf("an unknown status reads %q, want its code", got)
	}
}

package fieldapp_test

import (
	"encoding/json"
	"testing"

	"github.com/ruhu-dev/ruhu/client-sdk/fieldapp"
	"github.com/ruhu-dev/ruhu/schemas"
)

// TestExitStepFormFromSchema: the exit step form draws the schema's
// fields but the ones the app fills; a notice's posting and end times are
// local date-time inputs that become RFC 3339 in China Standard Time and
// come back as the same inputs for a fix.
func TestExitStepFormFromSchema(t *testing.T) {
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	f, err := fieldapp.BuildForm(reg, "exit_steps")
	if err != nil {
		t.Fatal(err)
	}
	widgets := map[string]string{}
	for _, fd := range f.Fields {
		widgets[fd.Name] = fd.Widget
	}
	for _, auto := range []string{"case_id", "household_id", "actor", "at", "signature_id", "notice_photo_sha256"} {
		if _, ok := widgets[auto]; ok {
			t.Errorf("%s is drawn; the app fills it", auto)
		}
	}
	if widgets["step"] != fieldapp.WidgetSelect || widgets["notice_posted_at"] != fieldapp.WidgetDateTime ||
		widgets["notice_ends_at"] != fieldapp.WidgetDateTime || widgets["photo_sha256s"] != fieldapp.WidgetPhotos || widgets["signed"] != fieldapp.WidgetNumber {
		t.Fatalf("widgets %v", widgets)
	}
	if f.ShowWhen == nil || f.ShowWhen.Field != "step" || len(f.ShowWhen.Fields["village_notice"]) != 4 ||
		len(f.ShowWhen.Fields["acknowledgement"]) != 1 || f.ShowWhen.Fields["acknowledgement"][0] != "signature_id" {
		t.Errorf("show when %+v", f.ShowWhen)
	}
	for step, fields := range f.ShowWhen.Fields {
		for _, name := range fields {
			if _, ok := widgets[name]; !ok && name != "signature_id" { // signature_id: the pad
				t.Errorf("step %s shows %s, which the form does not have", step, name)
			}
		}
	}
	vals, err := f.Values(map[string]string{"step": "village_notice", "notice_posted_at": "2026-11-20T08:30", "notice_ends_at": "2026-11-25T08:30:00+08:00"})
	if err != nil {
		t.Fatal(err)
	}
	if string(vals["notice_posted_at"]) != `"2026-11-20T08:30:00+08:00"` || string(vals["notice_ends_at"]) != `"2026-11-25T08:30:00+08:00"` {
		t.Errorf("values %s %s", vals["notice_posted_at"], vals["notice_ends_at"])
	}
	if _, err := f.Values(map[string]string{"notice_posted_at": "11月20日"}); err == nil {
		t.Error("a time that is not one was taken")
	}
	in, _ := f.Inputs(map[string]json.RawMessage{"notice_posted_at": json.RawMessage(`"2026-11-20T00:30:00Z"`)})
	if in["notice_posted_at"] != "2026-11-20T08:30" {
		t.Errorf("input back %q", in["notice_posted_at"])
	}
}

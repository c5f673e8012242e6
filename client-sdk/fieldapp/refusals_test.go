package fieldapp

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/schemas"
)

// A refusal reaches the officer in Chinese with the form's titles: the
// server's schema text ("visits.checklist: missing drinking_water") and a
// rule's code before its sentence are for logs, not for the door.
func TestRefusalText(t *testing.T) {
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	// The server's own words for a visit without the drinking-water item.
	visit := map[string]json.RawMessage{
		"household_id": json.RawMessage(`"h1"`), "officer": json.RawMessage(`"wang"`), "visited_at": json.RawMessage(`"2026-12-02T10:00:00+08:00"`),
		"answered_by_name": json.RawMessage(`"周桂芳"`),
		"checklist":        json.RawMessage(`{"food":"ok","clothing":"ok","education":"ok","medical":"ok","housing":"ok"}`),
	}
	var missing *schemas.FieldError
	if err := reg.ValidateRecord("visits", visit); !errors.As(err, &missing) {
		t.Fatalf("visit without drinking_water: %v", err)
	}
	visit["checklist"] = json.RawMessage(`{"food":"maybe","clothing":"ok","education":"ok","medical":"ok","housing":"ok","drinking_water":"ok"}`)
	var badEnum *schemas.FieldError
	if err := reg.ValidateRecord("visits", visit); !errors.As(err, &badEnum) {
		t.Fatalf("visit with food=maybe: %v", err)
	}
	for _, tc := range []struct {
		name, code, message string
		want, wantField     string
	}{
		{"schema: missing item", "EINVALID", missing.Error(), "两不愁三保障及饮水安全：缺少「饮水安全有保障」", "checklist"},
		{"schema: value not allowed", "EINVALID", badEnum.Error(), "不愁吃：不是可选的值", "checklist"},
		{"schema: required field", "EINVALID", "visits.answered_by_name: required", "受访人姓名：必须填写", "answered_by_name"},
		{"rule: code then sentence", "EINVALID", "exit_notice_too_short: 公示期4天0小时0分钟，少于5天", "公示期4天0小时0分钟，少于5天", ""},
		{"Chinese as it is", "EFORBIDDEN", "这户已不由您负责", "这户已不由您负责", ""},
		{"English without words for it: by code", "EFORBIDDEN", "officer wang is not assigned to h1", "您没有权限修改这条记录（可能已不再负责这户）", ""},
		{"unknown code", "EWHATEVER", "something broke", "服务器拒绝了这条记录，请联系乡镇管理员", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, field := refusalText(reg, tc.code, tc.message)
			if got != tc.want || field != tc.wantField {
				t.Errorf("refusalText(%q) = %q, %q; want %q, %q", tc.message, got, field, tc.want, tc.wantField)
			}
		})
	}
}

// The clock-suspect warning says the offset in words, not Go's "1h30m0s".
func TestDurationText(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{5 * time.Minute, "5 分钟"},
		{90*time.Minute + 20*time.Second, "1 小时 30 分钟"},
		{2 * time.Hour, "2 小时"},
		{26*time.Hour + 7*time.Minute, "1 天 2 小时"},
		{20 * time.Second, "不到 1 分钟"},
	} {
		if got := durationText(tc.d); got != tc.want {
			t.Errorf("durationText(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

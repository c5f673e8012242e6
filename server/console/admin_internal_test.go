package console

import "testing"

// The notice words only the outcomes the admin forms redirect with; a
// hand-typed ?done= shows nothing instead of being echoed.
func TestAdminNotice(t *testing.T) {
	for _, tc := range []struct{ done, want string }{
		{"user:qian", "已新增用户 qian"},
		{"updated:li", "已保存用户 li 的修改"},
		{"revoked:dX1", "已吊销设备 dX1，该平板需重新登录注册"},
		{"revoked:", ""},
		{"hacked:<b>x</b>", ""},
		{"no colon", ""},
		{"", ""},
	} {
		if got := adminNotice(tc.done); got != tc.want {
			t.Errorf("adminNotice(%q) = %q, want %q", tc.done, got, tc.want)
		}
	}
}

package client

import (
	"testing"
	"time"
)

func TestWaitText(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{29 * time.Second, "29 秒"},
		{200 * time.Millisecond, "1 秒"},
		{2 * time.Minute, "2 分钟"},
		{2*time.Minute + 5*time.Second, "2 分 5 秒"},
		{time.Hour + 4*time.Minute + 30*time.Second, "1 小时 4 分"},
	} {
		if got := waitText(tc.d); got != tc.want {
			t.Errorf("waitText(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

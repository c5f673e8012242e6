package chinatime_test

import (
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/chinatime"
)

// TestZone: China Standard Time is UTC+8 all year round, named CST.
func TestZone(t *testing.T) {
	for _, utc := range []time.Time{
		time.Date(2026, 1, 15, 16, 0, 0, 0, time.UTC),
		time.Date(2026, 7, 15, 16, 0, 0, 0, time.UTC), // a summer date: no daylight saving
		time.Date(1995, 12, 31, 15, 59, 59, 0, time.UTC),
	} {
		local := utc.In(chinatime.Zone())
		if name, off := local.Zone(); name != "CST" || off != 8*3600 {
			t.Errorf("%v: zone %s%+d, want CST+28800", utc, name, off)
		}
		if local.Hour() != (utc.Hour()+8)%24 {
			t.Errorf("%v reads %v in China", utc, local)
		}
	}
}

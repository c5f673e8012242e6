package rules_test

import (
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
)

// TestResidencyDayEdges: a check-in counts for the China Standard Time
// date it was made on, to the nanosecond at both ends of a day and of the
// month, whatever zone its time is written in.
func TestResidencyDayEdges(t *testing.T) {
	december := local(2026, 12, 1, 0, 0, 0)
	tests := []struct {
		name string
		at   time.Time
		want int // days counted; -1 when no finding is expected (20 days)
	}{
		{"the first instant of a new day", local(2026, 11, 20, 0, 0, 0), -1},
		{"the last nanosecond of a new day, in UTC", local(2026, 11, 20, 23, 59, 59).Add(999_999_999).UTC(), -1},
		{"the last nanosecond of the month", december.Add(-1), -1},
		{"the first instant of the next month", december, 19},
		{"the last nanosecond of the month before", local(2026, 11, 1, 0, 0, 0).Add(-1), 19},
		{"late on a day already counted, in UTC−5", local(2026, 11, 19, 23, 59, 59).In(time.FixedZone("", -5*3600)), 19},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			extra := rules.Checkin{ID: "edge", Member: "m1", VillageCode: village, At: tc.at, ReceivedAt: tc.at,
				Lat: vLat, Lon: vLon, AccuracyM: 15}
			short, clock, travel := runResidency(t, residencyCase{checkinDays: days(1, 19)}, extra)
			if len(clock)+len(travel) != 0 {
				t.Fatalf("check-in not trusted: %+v %+v", clock, travel)
			}
			if tc.want < 0 {
				if len(short) != 0 {
					t.Fatalf("unexpected finding %+v", short)
				}
				return
			}
			if len(short) != 1 || short[0].Days != tc.want {
				t.Fatalf("findings %+v, want %d days", short, tc.want)
			}
		})
	}
}

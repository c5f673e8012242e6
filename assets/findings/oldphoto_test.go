package findings_test

import (
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/assets/findings"
)

// TestOldPhotoAtThePolicyBoundary: attaching a photo copies its EXIF time
// into the record, so only the tablet's own attach time shows its age.
func TestOldPhotoAtThePolicyBoundary(t *testing.T) {
	attached := time.Date(2026, 11, 20, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	photo := func(age time.Duration) []findings.Photo {
		taken := attached.Add(-age)
		return []findings.Photo{{ID: "p1", HouseholdID: "h1", RecordTime: taken, EXIFTime: taken, TabletTime: attached}}
	}
	tests := []struct {
		name   string
		age    time.Duration
		policy findings.Policy
		want   bool
	}{
		{"exactly the default 7 days", 7 * 24 * time.Hour, findings.Policy{}, false},
		{"7 days and a minute", 7*24*time.Hour + time.Minute, findings.Policy{}, true},
		{"400 days", 400 * 24 * time.Hour, findings.Policy{}, true},
		{"exactly a 30-day policy", 30 * 24 * time.Hour, findings.Policy{OldPhotoDays: 30}, false},
		{"a second past a 30-day policy", 30*24*time.Hour + time.Second, findings.Policy{OldPhotoDays: 30}, true},
		{"check turned off", 400 * 24 * time.Hour, findings.Policy{OldPhotoDays: -1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := findings.Check(photo(tc.age), tc.policy)
			flagged := false
			for _, f := range got {
				if f.Kind == findings.OldPhoto {
					flagged = true
					if f.Delta != tc.age || f.Detail == "" || f.PhotoIDs[0] != "p1" {
						t.Errorf("finding = %+v", f)
					}
				}
			}
			if flagged != tc.want {
				t.Errorf("flagged = %v, want %v (%v)", flagged, tc.want, kinds(got))
			}
		})
	}
	// Without the tablet's time (records made before recorded_at) nothing
	// is flagged: unknown is skipped, never failed.
	old := photo(400 * 24 * time.Hour)
	old[0].TabletTime = time.Time{}
	if got := findings.Check(old, findings.Policy{}); len(got) != 0 {
		t.Errorf("no tablet time: %v", kinds(got))
	}
}

package rules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
)

// TestTabletKeyPolicy: the shipped lease is 14 days and 10 wrong PINs; a
// county may shorten the lease; figures out of range name the key.
func TestTabletKeyPolicy(t *testing.T) {
	ps, err := rules.DefaultPolicies()
	if err != nil {
		t.Fatal(err)
	}
	if p := ps.For("340199001001", 2026).TabletKeys; p.Lease() != 14*24*time.Hour || p.MaxPINFailures != 10 {
		t.Errorf("shipped tablet keys %+v", p)
	}
	ps, err = rules.LoadPolicyDir(writePolicies(t, map[string]string{"340199.yaml": "tablet_keys:\n  lease_days: 7\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if p := ps.For("340199001001", 2026).TabletKeys; p.LeaseDays != 7 || p.MaxPINFailures != 10 {
		t.Errorf("county's tablet keys %+v", p)
	}
	for body, want := range map[string]string{
		"tablet_keys:\n  lease_days: 0\n":       "tablet_keys.lease_days: must be 1..90",
		"tablet_keys:\n  lease_days: 365\n":     "tablet_keys.lease_days: must be 1..90",
		"tablet_keys:\n  max_pin_failures: 1\n": "tablet_keys.max_pin_failures: must be 3..100",
		"tablet_keys:\n  max_pin_failure: 10\n": "tablet_keys.max_pin_failure: unknown key",
	} {
		_, err := rules.LoadPolicyDir(writePolicies(t, map[string]string{"34.yaml": body}))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", body, err, want)
		}
	}
}

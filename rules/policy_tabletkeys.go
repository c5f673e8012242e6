package rules

import "time"

// TabletKeyPolicy holds the figures of the tablets' key for personal
// fields (client-sdk tabletkeys.go): the key is derived from the officer's
// PIN and a share the server hands out at each sync, valid for a lease.
type TabletKeyPolicy struct {
	// LeaseDays is how long a tablet may read personal fields after its
	// last sync; past it they stay sealed until the tablet syncs again.
	LeaseDays int `yaml:"lease_days" json:"lease_days"`
	// MaxPINFailures is how many wrong PINs in a row wipe the tablet's
	// local data and key material.
	MaxPINFailures int `yaml:"max_pin_failures" json:"max_pin_failures"`
}

// Lease is LeaseDays as a duration.
func (p TabletKeyPolicy) Lease() time.Duration { return time.Duration(p.LeaseDays) * 24 * time.Hour }

package core

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"strconv"
	"time"
)

// KeyShareSize is the size of a device's key share.
const KeyShareSize = sha256.Size

// KeyShare is what a tablet gets at each sync to read personal fields:
// its share of the key (combined on the tablet with the officer's PIN,
// client-sdk tabletkeys.go), good until LeaseUntil, and how many wrong PINs
// in a row wipe the tablet. The figures come from the policy of the
// user's area (rules.TabletKeyPolicy).
type KeyShare struct {
	Share          []byte
	LeaseUntil     time.Time
	Lease          time.Duration
	MaxPINFailures int
}

// KeyShare hands the calling device its key share with a fresh lease. Only
// an enrolled device of the caller gets one (EFORBIDDEN for a session
// without a device); a revoked device never again gets it (EREVOKED), so
// a lost tablet's personal fields stay sealed once its lease runs out.
//
// The share is an HMAC, under the store's secret, of the device's id and
// enrolment time: one value per device, the same at every sync, nothing
// more to store, and a re-enrolled tablet (a new device) gets another.
// The store's secret must therefore never be replaced while tablets hold
// data sealed under their shares.
func (c *Core) KeyShare(ctx context.Context, caller Caller) (*KeyShare, error) {
	if caller.Device == "" {
		return nil, errForbidden("a key share is only for an enrolled device")
	}
	var dev *Device
	err := c.store.View(func(tx Tx) (err error) {
		dev, err = tx.Device(caller.Device)
		return err
	})
	if err != nil {
		return nil, c.storeErr(ctx, "key share: read device", err)
	}
	// Authenticate checked this too; checking again here closes the window
	// of a revocation between the two.
	if dev == nil || dev.Revoked() || dev.Username != caller.User {
		return nil, errRevoked
	}
	now := c.opts.Now()
	area := ""
	if len(caller.Scopes) > 0 {
		area = caller.Scopes[0]
	}
	pol := c.opts.Policies.For(area, now.Year()).TabletKeys
	mac := hmac.New(sha256.New, c.store.Secret())
	mac.Write([]byte("ruhu tablet key share v1\x00" + dev.ID + "\x00" + strconv.FormatInt(dev.EnrolledAt.UnixNano(), 10)))
	return &KeyShare{Share: mac.Sum(nil), LeaseUntil: now.Add(pol.Lease()).UTC(), Lease: pol.Lease(), MaxPINFailures: pol.MaxPINFailures}, nil
}

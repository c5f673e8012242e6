package core

import (
	"context"
	"encoding/json"

	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// ConsoleDevice is the device name of ops made through Edit: township and
// county users review evidence and keep the rectification ledger from the
// web console or the API, without an enrolled tablet.
const ConsoleDevice = "console"

// Edit creates or changes one record for a caller without a device (the
// console, an API client of a township or county user): it is one op
// through the same admission as a push — shape, role, area scope,
// assignments, schema, append-only annotations and the exit, ledger and
// review procedures (rules.CheckOp) — applied in one transaction with an
// audit entry. area is needed only to create a record; a change keeps the
// record's area. The change is based on the fields as stored now, so a
// field changed meanwhile by a tablet opens a conflict instead of being
// lost. It returns the record as stored after the change.
//
// Errors: the op's refusal with its code (EFORBIDDEN, EINVALID,
// ECONFLICT with a rules code such as ledger_same_user in its message),
// ENOTFOUND for a change of a record that does not exist or lies outside
// the caller's scope, and those of Push.
func (c *Core) Edit(ctx context.Context, caller Caller, collection, id, area string, set map[string]json.RawMessage) (*syncengine.Record, error) {
	var cur *syncengine.Record
	err := c.store.View(func(tx Tx) error {
		var err error
		cur, err = tx.Record(collection, id)
		return err
	})
	if err != nil {
		return nil, c.storeErr(ctx, "edit: read record", err)
	}
	if cur != nil && !auth.InScope(caller.Scopes, cur.Area) {
		cur = nil // outside the scope looks absent
	}
	op := &syncengine.Op{ID: "c" + auth.NewRefreshToken()[:20], RecordID: id, Collection: collection, Area: area,
		Author: caller.User, Device: ConsoleDevice, HLC: c.clock.Now(), Set: set, DeviceTime: c.opts.Now()}
	if cur != nil {
		op.Area = cur.Area
		op.Base = make(map[string]string, len(set))
		for name := range set {
			if f, ok := cur.Fields[name]; ok {
				op.Base[name] = f.OpID
			}
		}
	} else if area == "" {
		return nil, syncengine.Errorf(syncengine.ENOTFOUND, "%s/%s does not exist", collection, id)
	}
	caller.Device = ConsoleDevice
	res, err := c.push(ctx, caller, []syncengine.WireOp{op.ToWire()}, nil, c.opts.Now())
	if err != nil {
		return nil, err
	}
	if len(res.Rejected) > 0 {
		r := res.Rejected[0]
		return nil, syncengine.Errorf(r.Code, "%s", r.Message)
	}
	var after *syncengine.Record
	err = c.store.View(func(tx Tx) error {
		var err error
		after, err = tx.Record(collection, id)
		return err
	})
	return after, c.storeErr(ctx, "edit: read record", err)
}

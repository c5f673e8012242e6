package core

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Record returns a record's merged state and, when history is true, every
// accepted op of it in acceptance order. A record outside caller's scope
// answers exactly as an absent one: ENOTFOUND "no record <col>/<id>". An
// unknown collection is EINVALID.
func (c *Core) Record(ctx context.Context, caller Caller, collection, id string, history bool) (*syncengine.Record, []*syncengine.Op, error) {
	if !c.schemas.Known(collection) {
		return nil, nil, errInvalid("unknown collection %q", collection)
	}
	var rec *syncengine.Record
	var hist []*syncengine.Op
	err := c.store.View(func(tx Tx) (err error) {
		rec, err = tx.Record(collection, id)
		if err != nil || rec == nil || !auth.InScope(caller.Scopes, rec.Area) {
			return err
		}
		if history {
			hist, err = tx.History(collection, id)
		}
		return err
	})
	if err != nil {
		return nil, nil, c.storeErr(ctx, "read record", err)
	}
	// Out of scope looks the same as absent: scopes must not leak existence.
	if rec == nil || !auth.InScope(caller.Scopes, rec.Area) {
		return nil, nil, syncengine.Errorf(syncengine.ENOTFOUND, "no record %s/%s", collection, id)
	}
	return rec, hist, nil
}

// ConflictFilter selects conflicts. The zero value means open conflicts
// of every area in scope.
type ConflictFilter struct {
	// Status is syncengine.ConflictOpen, syncengine.ConflictResolved or
	// "all"; "" means open.
	Status string
	// Area is an area-code prefix (1 to 12 digits); "" means every area.
	Area string
}

// Conflicts returns the conflicts in caller's scope that match filter,
// oldest first. A bad filter is EINVALID.
func (c *Core) Conflicts(ctx context.Context, caller Caller, filter ConflictFilter) ([]*syncengine.Conflict, error) {
	status := filter.Status
	if status == "" {
		status = syncengine.ConflictOpen
	}
	if status != syncengine.ConflictOpen && status != syncengine.ConflictResolved && status != "all" {
		return nil, errInvalid("status must be open, resolved or all")
	}
	if filter.Area != "" && !syncengine.ValidAreaPrefix(filter.Area) {
		return nil, errInvalid("area must be 1 to 12 digits")
	}
	out := []*syncengine.Conflict{}
	err := c.store.View(func(tx Tx) error {
		return tx.Conflicts(func(cf *syncengine.Conflict) bool {
			if (status == "all" || cf.Status == status) && auth.InScope(caller.Scopes, cf.Area) &&
				(filter.Area == "" || auth.InScope([]string{filter.Area}, cf.Area)) {
				out = append(out, cf)
			}
			return true
		})
	})
	if err != nil {
		return nil, c.storeErr(ctx, "list conflicts", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].OpenedAt.Before(out[j].OpenedAt) })
	return out, nil
}

// Resolve records a supervisor's decision on an open conflict. An empty
// value confirms the merge winner; another value is validated as a patch
// and written as a new op by caller (device "server"), stamped after every
// candidate so it wins everywhere, and history shows who decided.
//
// Errors: EFORBIDDEN for a role that does not decide conflicts, ENOTFOUND
// for a conflict that is absent or outside caller's scope (the same
// answer), ECONFLICT when it is already resolved, EINVALID for a value the
// schema refuses.
func (c *Core) Resolve(ctx context.Context, caller Caller, id string, value json.RawMessage, note string) (*syncengine.Conflict, error) {
	if !auth.CanResolveConflicts(caller.Role) {
		return nil, errForbidden("role %s may not resolve conflicts", caller.Role)
	}
	if len(value) > 0 && !json.Valid(value) {
		return nil, errInvalid("value is not valid JSON")
	}
	now := c.opts.Now()
	var result *syncengine.Conflict
	err := c.store.UpdateSolo(func(tx Tx) error {
		cf, err := tx.Conflict(id)
		if err != nil {
			return err
		}
		if cf == nil || !auth.InScope(caller.Scopes, cf.Area) {
			return syncengine.Errorf(syncengine.ENOTFOUND, "no conflict %s", id)
		}
		if cf.Status != syncengine.ConflictOpen {
			return syncengine.Errorf(syncengine.ECONFLICT, "conflict %s is already resolved", id)
		}
		res := &syncengine.Resolution{By: caller.User, At: now.UTC(), Value: cf.Winner().Value, Note: note}
		rec, err := tx.Record(cf.Collection, cf.RecordID)
		if err != nil {
			return err
		}
		if len(value) > 0 && rec != nil && !syncengine.JSONEqual(value, rec.Fields[cf.Field].Value) {
			if err := c.schemas.ValidatePatch(cf.Collection, map[string]json.RawMessage{cf.Field: value}); err != nil {
				return errInvalid("%v", err)
			}
			// The choice must win the merge. A server that restarted since
			// the candidates arrived has a clock that never saw their
			// stamps, which may run a little ahead of it: stamp after them.
			for _, cand := range cf.Candidates {
				c.clock.Observe(cand.HLC)
			}
			c.clock.Observe(rec.Fields[cf.Field].HLC)
			op := &syncengine.Op{ID: "r" + cf.ID + "-" + auth.NewRefreshToken()[:8], RecordID: cf.RecordID, Collection: cf.Collection,
				Area: cf.Area, Author: caller.User, Device: "server", HLC: c.clock.Now(),
				Set: map[string]json.RawMessage{cf.Field: value}, Base: map[string]string{cf.Field: rec.Fields[cf.Field].OpID},
				ReceivedAt: now.UTC()}
			if _, err := syncengine.Apply(tx, op, c.mergePolicy(cf.Collection), now); err != nil {
				return err
			}
			res.Value, res.OpID = value, op.ID
		}
		cf.Status, cf.Resolution = syncengine.ConflictResolved, res
		result = cf
		if err := tx.PutConflict(cf); err != nil {
			return err
		}
		return c.record(tx, caller, audit.KindResolve, cf.Area, map[string]string{"conflict": cf.ID,
			"record": cf.Collection + "/" + cf.RecordID, "field": cf.Field, "op": res.OpID})
	})
	if err != nil {
		return nil, c.storeErr(ctx, "resolve conflict", err)
	}
	return result, nil
}

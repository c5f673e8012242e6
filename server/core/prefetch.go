package core

import (
	"encoding/json"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Prefetcher is an optional part of a Tx, for stores where every read is
// a round trip to a database server (server/pgstore). A use case that is
// about to look up the store once or more per op of a batch names the
// keys first, and the store reads them all in one query; the lookups that
// follow (Record, RecordArea, OpApplied, AcceptedOp, Assigned, and in a
// read-only transaction User and Device) are then
// answered from what it fetched and from the transaction's own writes.
// Prefetching changes no answer: a key not named is read as before.
type Prefetcher interface {
	Prefetch(keys PrefetchKeys) error
}

// PrefetchKeys names what a batch will read.
type PrefetchKeys struct {
	Ops         []string        // op ids
	Records     []RecordKey     // records by collection and id
	Assignments []AssignmentKey // officer-household pairs
	Users       []string        // accounts by username (read-only transactions)
	Devices     []string        // devices by id (read-only transactions)
}

// RecordKey names one record.
type RecordKey struct{ Collection, ID string }

// AssignmentKey names one officer-household pair of Tx.Assigned.
type AssignmentKey struct{ Officer, Household string }

// prefetchOps hands a store that prefetches the keys a push of ops by
// caller will look up: each op's id and record, and for an officer's
// visits the assignment check of the household the op names.
func prefetchOps(tx Tx, caller Caller, ops []*syncengine.Op) error {
	p, ok := tx.(Prefetcher)
	if !ok || len(ops) == 0 {
		return nil
	}
	keys := PrefetchKeys{Ops: make([]string, len(ops)), Records: make([]RecordKey, len(ops))}
	for i, op := range ops {
		keys.Ops[i] = op.ID
		keys.Records[i] = RecordKey{op.Collection, op.RecordID}
		if caller.Role == auth.RoleOfficer && op.Collection == collection.Visits {
			var hh string
			if json.Unmarshal(op.Set["household_id"], &hh) == nil && hh != "" {
				keys.Assignments = append(keys.Assignments, AssignmentKey{caller.User, hh})
			}
		}
	}
	return p.Prefetch(keys)
}

// prefetchWire is prefetchOps for a batch as it came over the wire,
// before admission: the ids and records only.
func prefetchWire(tx Tx, wire []syncengine.WireOp) error {
	p, ok := tx.(Prefetcher)
	if !ok || len(wire) == 0 {
		return nil
	}
	keys := PrefetchKeys{Ops: make([]string, len(wire)), Records: make([]RecordKey, len(wire))}
	for i := range wire {
		keys.Ops[i] = wire[i].ID
		keys.Records[i] = RecordKey{wire[i].Collection, wire[i].RecordID}
	}
	return p.Prefetch(keys)
}

// prefetchAdmitted is prefetchOps for the admitted ops of a push.
func prefetchAdmitted(tx Tx, caller Caller, ops []admitted) error {
	list := make([]*syncengine.Op, len(ops))
	for i, a := range ops {
		list[i] = a.op
	}
	return prefetchOps(tx, caller, list)
}

// prefetchAccount hands a store that prefetches the account and device
// a request's token names, which Authenticate reads one after the other.
func prefetchAccount(tx Tx, user, device string) error {
	p, ok := tx.(Prefetcher)
	if !ok {
		return nil
	}
	keys := PrefetchKeys{Users: []string{user}}
	if device != "" {
		keys.Devices = []string{device}
	}
	return p.Prefetch(keys)
}

package core

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// PushResult is what a push did with each op of its batch: every op is
// either acknowledged (applied now or before) or rejected on its own.
type PushResult struct {
	// Acked lists the ids of the ops that are in the store, in batch order.
	Acked []string
	// Rejected lists the refused ops with a stable code and a reason.
	Rejected []syncengine.Rejection
	// Flagged lists acked ops the server marked (restamped, device clock
	// off) with the stamp they are stored under.
	Flagged []syncengine.FlaggedOp
	// Conflicts counts the conflicts the batch opened or joined.
	Conflicts int
}

// admitted is an op that passed the checks that need no write lock.
type admitted struct {
	op  *syncengine.Op
	pol syncengine.MergePolicy
	// created: the record did not exist (or lay outside the caller's
	// scope, which must look the same) when the op was validated, so it
	// was validated as a whole new record rather than as a patch.
	created bool
	// seen: the op had already been accepted (a resend). It is not
	// validated against today's state nor stamped again: it is acked with
	// the flags and stamp it got the first time.
	seen bool
	// prepared is the op merged onto an absent record, worked out during
	// admission for an op that creates its record (nil otherwise, or when
	// the merge refused it: the write transaction then merges as ever).
	prepared *syncengine.Created
	// write is what a WritePreparer store wrote ahead for the op (nil
	// when it is none).
	write any
}

// Push admits and applies a batch of ops from caller's device: each op is
// checked for shape, known collection, author and device (the caller's),
// the role's right to write the collection, the area scope, officers'
// assignments and team members' own check-ins, and its schema (a new
// record whole, a change as a patch, append-only collections only
// annotated); stamps far ahead of the server clock are restamped and
// flagged; then the admitted ops are applied in one transaction. A resent
// op is acked as it was the first time. A record outside the caller's
// scope is treated as absent, so refusals never reveal it.
//
// caller must be authenticated (Authenticate). Refusals of single ops are
// in the result; the error is ETOOLARGE for more than
// syncengine.MaxPushOps ops, ETRANSIENT when the store is temporarily
// unavailable or the write queue is full (Options.MaxQueuedOps; the error
// is then a *syncengine.RetryAfterError saying when to come back; nothing
// was applied: resend the batch) and EINTERNAL for anything else (logged).
func (c *Core) Push(ctx context.Context, caller Caller, batch []syncengine.WireOp) (PushResult, error) {
	return c.PushSigned(ctx, caller, batch, nil)
}

// PushSigned is Push of a batch that came with an envelope: the digest of
// the body as sent and the device's signature over it, checked before any
// op (see Options.RequireSignedPush for batches without one). The audit
// entry of the batch keeps both. Errors: those of Push, and
// syncengine.ErrBatchSignature (EFORBIDDEN) for a bad signature.
func (c *Core) PushSigned(ctx context.Context, caller Caller, batch []syncengine.WireOp, env *BatchEnvelope) (PushResult, error) {
	if len(batch) > syncengine.MaxPushOps {
		return PushResult{}, syncengine.Errorf(syncengine.ETOOLARGE, "a push holds at most %d ops, got %d", syncengine.MaxPushOps, len(batch))
	}
	if err := c.queue.enter(deviceKey(caller), len(batch)); err != nil {
		return PushResult{}, err
	}
	defer c.queue.leave(len(batch))
	now := c.opts.Now()
	if err := c.store.View(func(tx Tx) error { return c.verifyBatch(tx, caller, env) }); err != nil {
		return PushResult{}, c.storeErr(ctx, "push: verify signature", err)
	}
	return c.push(ctx, caller, batch, env, now)
}

// push admits and applies a batch whose envelope was checked (or that
// needs none: Edit's op made by the core itself).
//
// A large batch is admitted in chunks (pushChunks) while its write
// transaction runs: the transaction starts once the first chunk is
// admitted and applies each chunk as its admission ends, so checking the
// later ops' schemas on one CPU overlaps applying the earlier ones on the
// other, instead of the write path waiting for the whole batch. It is
// still one transaction: the batch is acked whole, once committed, in
// batch order, as before.
func (c *Core) push(ctx context.Context, caller Caller, batch []syncengine.WireOp, env *BatchEnvelope, now time.Time) (PushResult, error) {
	rb, ok := c.store.(ReadsBesideWrites)
	bounds := pushChunks(len(batch), ok && rb.ReadsBesideWrites())
	stages := make([]admitStage, len(bounds))
	for i := range stages {
		stages[i].done = make(chan struct{})
	}
	admitted := make(chan struct{}) // closed when every stage is done
	go func() {
		defer close(admitted)
		var failed error
		for i, b := range bounds {
			st := &stages[i]
			if failed == nil {
				// The first chunk has every CPU to itself; later ones
				// leave one to the write transaction they overlap.
				workers := runtime.GOMAXPROCS(0)
				if i > 0 {
					workers = max(workers-1, 1)
				}
				st.ops, st.err = c.admit(caller, batch[b[0]:b[1]], now, workers, func(id string, err error) {
					st.early = append(st.early, rejection(id, err))
				})
				failed = st.err
			} else {
				st.err = failed
			}
			close(st.done)
		}
	}()
	// Every path out waits for the admission goroutine: it reads batch.
	defer func() { <-admitted }()
	<-stages[0].done
	if err := stages[0].err; err != nil {
		return PushResult{}, c.storeErr(ctx, "push: admit", err)
	}
	var res PushResult
	err := c.store.Update(func(tx Tx) error {
		// Update may run this more than once: start from scratch each time.
		res = PushResult{Acked: make([]string, 0, len(batch))}
		var areas []string // of the ops applied now, for the audit entry
		early := 0
		for i := range stages {
			st := &stages[i]
			<-st.done
			if st.err != nil {
				return fmt.Errorf("admit: %w", st.err)
			}
			early += len(st.early)
			if err := c.applyAdmitted(tx, caller, st.ops, now, &res, &areas); err != nil {
				return err
			}
		}
		if len(areas) == 0 {
			return nil // nothing new: a resend or all refused
		}
		return c.record(tx, caller, audit.KindPush, commonArea(areas), pushAudit(env, batch, len(areas), len(res.Acked), early+len(res.Rejected)))
	})
	if err != nil {
		return PushResult{}, c.storeErr(ctx, "push: apply", err)
	}
	var early []syncengine.Rejection
	for i := range stages {
		early = append(early, stages[i].early...)
	}
	res.Rejected = append(early, res.Rejected...)
	return res, nil
}

// admitStage is one chunk of a batch on its way through admission: the
// ops that passed, in batch order, and the refusals; done is closed when
// its admission has ended.
type admitStage struct {
	ops   []admitted
	early []syncengine.Rejection
	err   error
	done  chan struct{}
}

// Chunk sizes of a batch's admission (see push): the first is small so
// the write transaction starts soon; the rest are large enough that their
// read transactions and worker start-ups cost little.
const (
	firstChunk = 128
	laterChunk = 256
)

// ReadsBesideWrites is an optional part of a Store: one whose View may run
// while an Update's function is running, and never waits for that
// function to end (bbolt: any number of readers beside the one writer).
// Only on such a store does a push admit its later ops while its write
// transaction applies the earlier ones; elsewhere (a store whose readers
// could wait for the writer, or pay a round trip per chunk) the whole
// batch is admitted before the transaction, as it always was.
type ReadsBesideWrites interface {
	ReadsBesideWrites() bool
}

// WritePreparer is an optional part of a Store whose writes include work
// that needs no transaction (encoding what it stores): PrepareWrite does
// that work for op, and for rec, the record op creates as
// syncengine.PrepareCreate merged it (nil when op changes a record), while
// a push admits op — beside the write transaction of the ops before it —
// and returns it for the store's Tx (PreparedTx). op and rec must not
// change after.
type WritePreparer interface {
	PrepareWrite(op *syncengine.Op, rec *syncengine.Record) any
}

// PreparedTx is the part of a WritePreparer store's Tx that takes what
// PrepareWrite returned for op: the syncengine.Apply of op that follows
// uses it where it still holds (the record Apply stores is the one
// prepared), and stores the rest as if nothing had been prepared.
// WillApply(nil, nil) forgets it.
type PreparedTx interface {
	WillApply(op *syncengine.Op, prepared any)
}

// pushChunks returns the [lo, hi) bounds of the chunks a batch of n ops
// is admitted in: with overlap, one chunk of up to firstChunk ops, then
// chunks of laterChunk; without, one chunk.
func pushChunks(n int, overlap bool) [][2]int {
	if !overlap || n <= firstChunk {
		return [][2]int{{0, n}}
	}
	out := [][2]int{{0, firstChunk}}
	for lo := firstChunk; lo < n; lo += laterChunk {
		out = append(out, [2]int{lo, min(lo+laterChunk, n)})
	}
	return out
}

// applyAdmitted applies admitted ops inside tx, appending to res what
// happened to each and to areas the area of each op applied now. An error
// is a store failure: the transaction must fail.
func (c *Core) applyAdmitted(tx Tx, caller Caller, ops []admitted, now time.Time, res *PushResult, areas *[]string) error {
	if err := prefetchAdmitted(tx, caller, ops); err != nil {
		return err
	}
	for _, a := range ops {
		// A resend is acked as it was the first time, whatever has
		// changed since (an assignment ended, the record moved on):
		// the tablet must not park an op the server holds.
		prev, err := tx.AcceptedOp(a.op.ID)
		if err != nil {
			return err
		}
		if prev != nil {
			// An op id reused for other content is refused, never
			// acked: acking would make the tablet drop undelivered data.
			if err := syncengine.CheckResend(prev, a.op); err != nil {
				res.Rejected = append(res.Rejected, rejection(a.op.ID, err))
				continue
			}
			res.Acked = append(res.Acked, a.op.ID)
			if len(prev.Flags) > 0 {
				res.Flagged = append(res.Flagged, syncengine.FlaggedOp{OpID: a.op.ID, Flags: prev.Flags, HLC: uint64(prev.HLC)})
			}
			continue
		}
		if a.seen {
			// Accepted when admitted, gone now: cannot happen, history
			// is never deleted.
			return fmt.Errorf("op %s vanished from history", a.op.ID)
		}
		cur, err := c.checkOpInTx(tx, caller, a.op, a.created)
		if err != nil {
			if syncengine.ErrorCode(err) == syncengine.EINTERNAL {
				return err
			}
			res.Rejected = append(res.Rejected, rejection(a.op.ID, err))
			continue
		}
		pt, _ := tx.(PreparedTx)
		if pt != nil && a.write != nil {
			pt.WillApply(a.op, a.write)
		}
		applied, err := syncengine.ApplyCreated(tx, a.op, a.pol, now, a.prepared)
		if pt != nil && a.write != nil {
			pt.WillApply(nil, nil)
		}
		if err != nil {
			if syncengine.ErrorCode(err) != syncengine.EINTERNAL {
				res.Rejected = append(res.Rejected, rejection(a.op.ID, err))
				continue
			}
			return fmt.Errorf("apply op %s: %w", a.op.ID, err)
		}
		if reset := c.reviewResetOp(a.op, cur, now); reset != nil {
			if _, err := syncengine.Apply(tx, reset, a.pol, now); err != nil {
				return fmt.Errorf("reset review of %s/%s after op %s: %w", a.op.Collection, a.op.RecordID, a.op.ID, err)
			}
		}
		res.Acked = append(res.Acked, a.op.ID)
		if len(a.op.Flags) > 0 {
			res.Flagged = append(res.Flagged, syncengine.FlaggedOp{OpID: a.op.ID, Flags: a.op.Flags, HLC: uint64(a.op.HLC)})
		}
		res.Conflicts += len(applied.Conflicts)
		*areas = append(*areas, a.op.Area)
	}
	return nil
}

func rejection(id string, err error) syncengine.Rejection {
	return syncengine.Rejection{OpID: id, Code: syncengine.ErrorCode(err), Message: syncengine.ErrorMessage(err)}
}

// admit runs every check that needs no write lock on each op of a batch,
// spread over up to workers goroutines, and returns the ops that passed,
// in batch order, stamped by the server clock. Refused ops go to reject.
func (c *Core) admit(caller Caller, wire []syncengine.WireOp, now time.Time, workers int, reject func(string, error)) ([]admitted, error) {
	out := make([]admitted, len(wire))
	errs := make([]error, len(wire))
	exists := make([]bool, len(wire))
	seen := make([]bool, len(wire))
	err := c.store.View(func(tx Tx) error {
		if err := prefetchWire(tx, wire); err != nil {
			return err
		}
		for i := range wire {
			area, ok, err := tx.RecordArea(wire[i].Collection, wire[i].RecordID)
			if err != nil {
				return err
			}
			exists[i] = ok && auth.InScope(caller.Scopes, area)
			if seen[i], err = tx.OpApplied(wire[i].ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	workers = max(min(workers, 1+len(wire)/64), 1)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(wire); i += workers {
				op := wire[i].FromWire()
				out[i].op = op
				if errs[i] = c.checkOp(caller, op); errs[i] == nil && !seen[i] {
					if errs[i] = c.validateOp(op, !exists[i]); errs[i] == nil {
						// Hashed here, on every CPU, rather than in the
						// write transaction that stores it; the server's
						// restamp below leaves the digest as it is.
						op.Digest = syncengine.OpDigest(op)
					}
				}
				out[i].created, out[i].seen = !exists[i], seen[i]
			}
		}(w)
	}
	wg.Wait()
	kept := out[:0]
	for i, a := range out {
		if errs[i] != nil {
			reject(a.op.ID, errs[i])
			continue
		}
		op := a.op
		if a.seen {
			kept = append(kept, a)
			continue
		}
		op.ReceivedAt = now.UTC()
		if stamp, restamped := c.clock.Admit(op.HLC, c.opts.MaxClockAhead); restamped {
			op.StatedHLC, op.HLC = op.HLC, stamp
			op.AddFlag(syncengine.FlagRestamped)
		}
		if !op.ServerTimeEst.IsZero() && !op.DeviceTime.IsZero() && absDuration(op.DeviceTime.Sub(op.ServerTimeEst)) > c.opts.MaxClockAhead {
			op.AddFlag(syncengine.FlagDeviceClockOff)
		}
		a.pol = c.mergePolicy(op.Collection)
		if a.created {
			// Merged here, beside the write transaction of the chunks
			// before (see push), rather than inside it.
			a.prepared, _ = syncengine.PrepareCreate(op, a.pol)
		}
		if wp, ok := c.store.(WritePreparer); ok {
			var rec *syncengine.Record
			if a.prepared != nil {
				rec = a.prepared.Record()
			}
			a.write = wp.PrepareWrite(op, rec)
		}
		kept = append(kept, a)
	}
	return kept, nil
}

// validateOp checks an op against its collection's schema: a new record
// must be whole and valid; a change to an existing one is checked as a
// patch. Deleting a record that does not exist is ENOTFOUND.
func (c *Core) validateOp(op *syncengine.Op, create bool) error {
	if !create {
		if err := c.schemas.ValidatePatch(op.Collection, op.Set); err != nil {
			return errInvalid("%v", err)
		}
		// Evidence is created once and afterwards only annotated: the
		// merge keeps set fields from changing, this keeps empty ones
		// from being filled in after the fact.
		if p := c.schemas.Policy(op.Collection); p.AppendOnly {
			for _, name := range slices.Sorted(maps.Keys(op.Set)) {
				if !p.MaySetAfterCreate(name) {
					return errInvalid("op %s: %s is append-only: field %s cannot be set after creation", op.ID, op.Collection, name)
				}
			}
		}
		return nil
	}
	if op.Tombstone != nil && len(op.Set) == 0 {
		return syncengine.Errorf(syncengine.ENOTFOUND, "op %s deletes a record that does not exist", op.ID)
	}
	if err := c.schemas.ValidateRecord(op.Collection, op.Set); err != nil {
		return errInvalid("%v", err)
	}
	return nil
}

// checkOp applies every rule that needs no store: shape, identity, role
// and area scope.
func (c *Core) checkOp(caller Caller, op *syncengine.Op) error {
	if err := op.Validate(); err != nil {
		return err
	}
	if !c.schemas.Known(op.Collection) {
		return errInvalid("unknown collection %q", op.Collection)
	}
	if op.Author != caller.User {
		return errForbidden("op %s: author %s is not the signed-in user", op.ID, op.Author)
	}
	if op.Device != caller.Device {
		return errForbidden("op %s: device %s is not this tablet", op.ID, op.Device)
	}
	if !canWrite(caller.Role, op) {
		return errForbidden("role %s may not write %s", caller.Role, op.Collection)
	}
	if !auth.InScope(caller.Scopes, op.Area) {
		return errForbidden("area %s is outside your scope", op.Area)
	}
	if caller.Role == auth.RoleTeamMember && op.Collection == collection.Checkins {
		if v, ok := op.Set["member"]; ok && !jsonStringIs(v, caller.User) {
			return errForbidden("team members record only their own check-ins")
		}
	}
	if caller.Role == auth.RoleOfficer && op.Collection == collection.Visits {
		if v, ok := op.Set["officer"]; ok && !jsonStringIs(v, caller.User) {
			return errForbidden("officers record only their own visits")
		}
	}
	return nil
}

// checkOpInTx applies the rules that read the store: a record outside the
// caller's scope is answered as if absent, creation must carry a whole
// valid record, officers visit only assigned households, team members
// touch only their own check-ins, and the exit, ledger and review
// procedures judge their ops (checkProcedure). It returns the record as
// stored before the op (nil when the op creates it). A refusal carries its
// code; an error without one (EINTERNAL) is a store failure.
func (c *Core) checkOpInTx(tx Tx, caller Caller, op *syncengine.Op, created bool) (*syncengine.Record, error) {
	cur, err := tx.Record(op.Collection, op.RecordID)
	if err != nil {
		return nil, err
	}
	return cur, c.checkOpInTxOn(tx, caller, op, created, cur)
}

func (c *Core) checkOpInTxOn(tx Tx, caller Caller, op *syncengine.Op, created bool, cur *syncengine.Record) error {
	if cur != nil && !auth.InScope(caller.Scopes, cur.Area) {
		// Out of scope looks exactly like unknown: the op gets the answer
		// it would get if the record did not exist, unless it is a valid
		// new record, whose id is then taken (only a guessed or reused id
		// lands here: ids are made on tablets, time-ordered and random).
		if err := c.validateOp(op, true); err != nil {
			return err
		}
		return syncengine.Errorf(syncengine.ECONFLICT, "op %s: record id %s cannot be used: make a new id", op.ID, op.RecordID)
	}
	fields := op.Set
	if cur != nil {
		fields = cur.Values()
		for k, v := range op.Set {
			fields[k] = v
		}
	}
	if (cur == nil) != created {
		// The record appeared or vanished since validation: validate again
		// the other way, rarely, inside the transaction.
		if err := c.validateOp(op, cur == nil); err != nil {
			return err
		}
	}
	if caller.Role == auth.RoleOfficer && op.Collection == collection.Visits {
		hh, _ := jsonString(fields["household_id"])
		if !tx.Assigned(caller.User, hh) {
			return errForbidden("household %s is not assigned to %s", hh, caller.User)
		}
	}
	if caller.Role == auth.RoleTeamMember && op.Collection == collection.Checkins && !jsonStringIs(fields["member"], caller.User) {
		return errForbidden("team members record only their own check-ins")
	}
	return c.checkProcedure(tx, caller, op, cur)
}

// Load writes ops made by whoever runs the store (the demo seed, bench
// fixtures, data moved from elsewhere) in one transaction. Each op is held
// to the rules of a push that concern data — its shape, a known collection,
// its schema (a new record whole, a change as a patch), append-only
// collections only annotated, one area per record — but not to a caller's
// role, scope or assignments, and keeps its stamp (a zero stamp gets the
// server clock's). Ops applied before are skipped; it returns how many
// were applied now; an edit of a reviewed record resets its review state
// as a push does. Any refused op fails the whole load (nothing written)
// with its code and a message naming it. A load is an import: it leaves
// an audit entry (what "ops", by the operator) in its transaction.
func (c *Core) Load(ctx context.Context, ops []*syncengine.Op) (int, error) {
	now := c.opts.Now()
	for _, op := range ops {
		if op.HLC == 0 {
			op.HLC = c.clock.Now()
		}
		if op.ReceivedAt.IsZero() {
			op.ReceivedAt = now.UTC()
		}
		if err := op.Validate(); err != nil {
			return 0, err
		}
		if !c.schemas.Known(op.Collection) {
			return 0, errInvalid("op %s: unknown collection %q", op.ID, op.Collection)
		}
	}
	applied := 0
	err := c.store.UpdateSolo(func(tx Tx) error {
		applied = 0
		if err := prefetchOps(tx, Operator(), ops); err != nil {
			return err
		}
		for _, op := range ops {
			seen, err := tx.OpApplied(op.ID)
			if err != nil {
				return err
			}
			if seen {
				continue
			}
			cur, err := tx.Record(op.Collection, op.RecordID)
			if err != nil {
				return err
			}
			if err := c.validateOp(op, cur == nil); err != nil {
				return fmt.Errorf("load op %s (%s/%s): %w", op.ID, op.Collection, op.RecordID, err)
			}
			if _, err := syncengine.Apply(tx, op, c.mergePolicy(op.Collection), now); err != nil {
				return fmt.Errorf("load op %s (%s/%s): %w", op.ID, op.Collection, op.RecordID, err)
			}
			// Operator data is not held to roles or procedures, but an edit
			// of reviewed evidence is reviewed again like any other.
			if reset := c.reviewResetOp(op, cur, now); reset != nil {
				if _, err := syncengine.Apply(tx, reset, c.mergePolicy(op.Collection), now); err != nil {
					return fmt.Errorf("load op %s: reset review: %w", op.ID, err)
				}
			}
			applied++
		}
		areas := make([]string, len(ops))
		for i, op := range ops {
			areas[i] = op.Area
		}
		return c.record(tx, Operator(), audit.KindImport, commonArea(areas), map[string]string{"what": "ops",
			"ops": strconv.Itoa(len(ops)), "applied": strconv.Itoa(applied)})
	})
	if err != nil {
		return 0, c.storeErr(ctx, "load", err)
	}
	return applied, nil
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

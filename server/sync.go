package server

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// admitted is an op that passed the checks that need no store.
type admitted struct {
	op  *syncengine.Op
	pol syncengine.MergePolicy
	// created: the record did not exist when the op was validated, so it
	// was validated as a whole new record rather than as a patch.
	created bool
	// seen: the op had already been accepted (a resend). It is not
	// validated against today's state nor stamped again: it is acked with
	// the flags and stamp it got the first time.
	seen bool
}

// admit runs every check that needs no write lock on each op of a batch,
// spread over the CPUs, and returns the ops that passed, in batch order,
// stamped by the server clock. Refused ops go to reject.
func (s *Server) admit(cl *auth.Claims, wire []syncengine.WireOp, now time.Time, reject func(string, error)) []admitted {
	out := make([]admitted, len(wire))
	errs := make([]error, len(wire))
	exists := make([]bool, len(wire))
	seen := make([]bool, len(wire))
	_ = s.store.View(func(tx *boltstore.Tx) error {
		for i := range wire {
			exists[i] = tx.Exists(wire[i].Collection, wire[i].RecordID)
			seen[i], _ = tx.OpApplied(wire[i].ID)
		}
		return nil
	})
	workers := min(runtime.GOMAXPROCS(0), 1+len(wire)/64)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(wire); i += workers {
				op := wire[i].FromWire()
				out[i].op = op
				if errs[i] = s.checkOp(cl, op); errs[i] == nil && !seen[i] {
					errs[i] = s.validateOp(op, !exists[i])
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
		if stamp, restamped := s.clock.Admit(op.HLC, s.cfg.MaxClockAhead); restamped {
			op.StatedHLC, op.HLC = op.HLC, stamp
			op.AddFlag(syncengine.FlagRestamped)
		}
		if !op.ServerTimeEst.IsZero() && !op.DeviceTime.IsZero() && absDuration(op.DeviceTime.Sub(op.ServerTimeEst)) > s.cfg.MaxClockAhead {
			op.AddFlag(syncengine.FlagDeviceClockOff)
		}
		a.pol = mergePolicy(s.schemas, op.Collection)
		kept = append(kept, a)
	}
	return kept
}

// mergePolicy is what the merge needs of a collection's schema policy.
func mergePolicy(reg Validator, collection string) syncengine.MergePolicy {
	p := reg.Policy(collection)
	return syncengine.MergePolicy{AppendOnly: p.AppendOnly, Annotations: p.Annotations}
}

// validateOp checks an op against its collection's schema: a new record
// must be whole and valid; a change to an existing one is checked as a
// patch. Deleting a record that does not exist is ENOTFOUND.
func (s *Server) validateOp(op *syncengine.Op, create bool) error {
	if !create {
		if err := s.schemas.ValidatePatch(op.Collection, op.Set); err != nil {
			return errInvalid("%v", err)
		}
		// Evidence is created once and afterwards only annotated: the
		// merge keeps set fields from changing, this keeps empty ones
		// from being filled in after the fact.
		if p := s.schemas.Policy(op.Collection); p.AppendOnly {
			for _, name := range sortedFieldNames(op.Set) {
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
	if err := s.schemas.ValidateRecord(op.Collection, op.Set); err != nil {
		return errInvalid("%v", err)
	}
	return nil
}

func (s *Server) handlePush(c *fiber.Ctx) error {
	start := time.Now()
	cl := claimsOf(c)
	var req syncengine.PushRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.Ops) > syncengine.MaxPushOps {
		return syncengine.Errorf(syncengine.ETOOLARGE, "a push holds at most %d ops, got %d", syncengine.MaxPushOps, len(req.Ops))
	}
	now := s.cfg.Now()
	resp := syncengine.PushResponse{Acked: make([]string, 0, len(req.Ops))}
	reject := func(id string, err error) {
		resp.Rejected = append(resp.Rejected, syncengine.Rejection{OpID: id, Code: syncengine.ErrorCode(err), Message: syncengine.ErrorMessage(err)})
	}
	ops := s.admit(cl, req.Ops, now, reject)

	var acked []string
	var rejected []syncengine.Rejection
	var flagged []syncengine.FlaggedOp
	var conflicts int
	err := s.store.Update(func(tx *boltstore.Tx) error {
		// Batch may run this more than once: start from scratch each time.
		acked, rejected, flagged, conflicts = acked[:0], rejected[:0], flagged[:0], 0
		for _, a := range ops {
			// A resend is acked as it was the first time, whatever has
			// changed since (an assignment ended, the record moved on):
			// the tablet must not park an op the server holds.
			prev, err := tx.StoredOp(a.op.ID)
			if err != nil {
				return err
			}
			if prev != nil {
				acked = append(acked, a.op.ID)
				if len(prev.Flags) > 0 {
					flagged = append(flagged, syncengine.FlaggedOp{OpID: a.op.ID, Flags: prev.Flags, HLC: prev.HLC})
				}
				continue
			}
			if a.seen {
				// Accepted when admitted, gone now: cannot happen, history
				// is never deleted.
				return fmt.Errorf("op %s vanished from history", a.op.ID)
			}
			if err := s.checkOpInTx(tx, cl, a.op, a.created); err != nil {
				rejected = append(rejected, syncengine.Rejection{OpID: a.op.ID, Code: syncengine.ErrorCode(err), Message: syncengine.ErrorMessage(err)})
				continue
			}
			res, err := syncengine.Apply(tx, a.op, a.pol, now)
			if err != nil {
				if code := syncengine.ErrorCode(err); code != syncengine.EINTERNAL {
					rejected = append(rejected, syncengine.Rejection{OpID: a.op.ID, Code: code, Message: syncengine.ErrorMessage(err)})
					continue
				}
				return err
			}
			acked = append(acked, a.op.ID)
			if len(a.op.Flags) > 0 {
				flagged = append(flagged, syncengine.FlaggedOp{OpID: a.op.ID, Flags: a.op.Flags, HLC: uint64(a.op.HLC)})
			}
			conflicts += len(res.Conflicts)
		}
		return nil
	})
	if err != nil {
		return syncengine.Errorf(syncengine.ETRANSIENT, "store unavailable, retry: %v", err)
	}
	resp.Acked = append(resp.Acked, acked...)
	resp.Rejected = append(resp.Rejected, rejected...)
	resp.Flagged = flagged
	resp.ServerTime = s.cfg.Now().UnixMilli()
	s.metrics.opsApplied.Add(float64(len(acked)))
	for _, r := range resp.Rejected {
		s.metrics.opsRejected.WithLabelValues(r.Code).Inc()
	}
	s.metrics.conflicts.Add(float64(conflicts))
	s.metrics.pushSeconds.Observe(time.Since(start).Seconds())
	return c.JSON(resp)
}

func sortedFieldNames(set map[string]json.RawMessage) []string {
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// checkOp applies every rule that needs no store: shape, schema, identity,
// role and area scope.
func (s *Server) checkOp(cl *auth.Claims, op *syncengine.Op) error {
	if err := op.Validate(); err != nil {
		return err
	}
	if !s.schemas.Known(op.Collection) {
		return errInvalid("unknown collection %q", op.Collection)
	}
	if op.Author != cl.Subject {
		return errForbidden("op %s: author %s is not the signed-in user", op.ID, op.Author)
	}
	if op.Device != cl.Device {
		return errForbidden("op %s: device %s is not this tablet", op.ID, op.Device)
	}
	if !auth.CanWrite(cl.Role, op.Collection) {
		return errForbidden("role %s may not write %s", cl.Role, op.Collection)
	}
	if !auth.InScope(cl.Scopes, op.Area) {
		return errForbidden("area %s is outside your scope", op.Area)
	}
	if cl.Role == auth.RoleTeamMember && op.Collection == "checkins" {
		if v, ok := op.Set["member"]; ok && !jsonStringIs(v, cl.Subject) {
			return errForbidden("team members record only their own check-ins")
		}
	}
	if cl.Role == auth.RoleOfficer && op.Collection == "visits" {
		if v, ok := op.Set["officer"]; ok && !jsonStringIs(v, cl.Subject) {
			return errForbidden("officers record only their own visits")
		}
	}
	return nil
}

// checkOpInTx applies the rules that read the store: creation must carry a
// whole valid record, officers visit only assigned households, and team
// members touch only their own check-ins.
func (s *Server) checkOpInTx(tx *boltstore.Tx, cl *auth.Claims, op *syncengine.Op, created bool) error {
	cur, err := tx.Record(op.Collection, op.RecordID)
	if err != nil {
		return err
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
		if err := s.validateOp(op, cur == nil); err != nil {
			return err
		}
	}
	if cl.Role == auth.RoleOfficer && op.Collection == "visits" {
		var hh string
		_ = json.Unmarshal(fields["household_id"], &hh)
		if !tx.Assigned(cl.Subject, hh) {
			return errForbidden("household %s is not assigned to %s", hh, cl.Subject)
		}
	}
	if cl.Role == auth.RoleTeamMember && op.Collection == "checkins" && !jsonStringIs(fields["member"], cl.Subject) {
		return errForbidden("team members record only their own check-ins")
	}
	return nil
}

func jsonStringIs(raw json.RawMessage, want string) bool {
	var s string
	return json.Unmarshal(raw, &s) == nil && s == want
}

func (s *Server) handlePull(c *fiber.Ctx) error {
	start := time.Now()
	cl := claimsOf(c)
	cur, err := syncengine.DecodeCursor(c.Query("cursor"))
	if err != nil {
		return err
	}
	limit := syncengine.DefaultPullLimit
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > syncengine.MaxPullLimit {
			return errInvalid("limit must be 1 to %d", syncengine.MaxPullLimit)
		}
		limit = n
	}
	// The page is written by hand into the response's pooled body buffer:
	// stored records already are wire records in JSON, so they are copied
	// out of the store without being decoded and encoded again.
	resp := c.Response()
	resp.ResetBody()
	resp.AppendBodyString(`{"records":[`)
	var reset, more bool
	var cursor string
	err = s.store.View(func(tx *boltstore.Tx) error {
		from := cur.Seq
		if cur.Epoch != "" && (cur.Epoch != s.store.Epoch() || cur.Seq > tx.LastSeq()) {
			reset, from = true, 0
		}
		// Out-of-scope changes are skipped but still cost a look; bound
		// them per page so one pull never walks the whole store.
		budget, n := limit*20, 0
		last, err := tx.ChangesAfterRaw(from, func(_ uint64, area string, raw []byte) bool {
			budget--
			if auth.InScope(cl.Scopes, area) {
				if n > 0 {
					resp.AppendBodyString(",")
				}
				resp.AppendBody(raw)
				n++
			}
			if n >= limit || budget <= 0 {
				more = true
				return false
			}
			return true
		})
		if err != nil {
			return err
		}
		if more && !tx.HasChangesAfter(last) {
			more = false
		}
		cursor = syncengine.Cursor{Epoch: s.store.Epoch(), Seq: last}.Encode()
		return nil
	})
	if err != nil {
		return storeErr("pull", err)
	}
	// The cursor is base64url: nothing in it needs JSON escaping.
	tail := make([]byte, 0, 128)
	tail = append(tail, `],"cursor":"`...)
	tail = append(tail, cursor...)
	tail = append(tail, `","more":`...)
	tail = strconv.AppendBool(tail, more)
	tail = append(tail, `,"reset":`...)
	tail = strconv.AppendBool(tail, reset)
	tail = append(tail, `,"server_time":`...)
	tail = strconv.AppendInt(tail, s.cfg.Now().UnixMilli(), 10)
	resp.AppendBody(append(tail, '}'))
	s.metrics.pullSeconds.Observe(time.Since(start).Seconds())
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return nil
}

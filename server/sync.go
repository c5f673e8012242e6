package server

import (
	"encoding/json"
	"strconv"
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
	var ops []admitted
	for i := range req.Ops {
		op := req.Ops[i].FromWire()
		if err := s.checkOp(cl, op); err != nil {
			reject(op.ID, err)
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
		p := s.schemas.Policy(op.Collection)
		ops = append(ops, admitted{op: op, pol: syncengine.MergePolicy{AppendOnly: p.AppendOnly, Annotations: p.Annotations}})
	}

	var acked []string
	var rejected []syncengine.Rejection
	var conflicts int
	err := s.store.Update(func(tx *boltstore.Tx) error {
		// Batch may run this more than once: start from scratch each time.
		acked, rejected, conflicts = acked[:0], rejected[:0], 0
		for _, a := range ops {
			if err := s.checkOpInTx(tx, cl, a.op); err != nil {
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
			conflicts += len(res.Conflicts)
		}
		return nil
	})
	if err != nil {
		return syncengine.Errorf(syncengine.ETRANSIENT, "store unavailable, retry: %v", err)
	}
	resp.Acked = append(resp.Acked, acked...)
	resp.Rejected = append(resp.Rejected, rejected...)
	for _, a := range ops {
		if len(a.op.Flags) > 0 && contains(acked, a.op.ID) {
			resp.Flagged = append(resp.Flagged, syncengine.FlaggedOp{OpID: a.op.ID, Flags: a.op.Flags, HLC: uint64(a.op.HLC)})
		}
	}
	resp.ServerTime = s.cfg.Now().UnixMilli()
	s.metrics.opsApplied.Add(float64(len(acked)))
	for _, r := range resp.Rejected {
		s.metrics.opsRejected.WithLabelValues(r.Code).Inc()
	}
	s.metrics.conflicts.Add(float64(conflicts))
	s.metrics.pushSeconds.Observe(time.Since(start).Seconds())
	return c.JSON(resp)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
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
	if err := s.schemas.ValidatePatch(op.Collection, op.Set); err != nil {
		return errInvalid("%v", err)
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
func (s *Server) checkOpInTx(tx *boltstore.Tx, cl *auth.Claims, op *syncengine.Op) error {
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
	} else if op.Tombstone != nil && len(op.Set) == 0 {
		return syncengine.Errorf(syncengine.ENOTFOUND, "op %s deletes a record that does not exist", op.ID)
	} else if err := s.schemas.ValidateRecord(op.Collection, op.Set); err != nil {
		return errInvalid("%v", err)
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
	resp := syncengine.PullResponse{Records: []syncengine.WireRecord{}}
	err = s.store.View(func(tx *boltstore.Tx) error {
		from := cur.Seq
		if cur.Epoch != "" && (cur.Epoch != s.store.Epoch() || cur.Seq > tx.LastSeq()) {
			resp.Reset, from = true, 0
		}
		// Out-of-scope changes are skipped but still cost a look; bound
		// them per page so one pull never walks the whole store.
		budget := limit * 20
		last, err := tx.ChangesAfter(from, func(ch boltstore.Change) bool {
			budget--
			if auth.InScope(cl.Scopes, ch.Record.Area) {
				resp.Records = append(resp.Records, ch.Record.ToWire())
			}
			if len(resp.Records) >= limit || budget <= 0 {
				resp.More = true
				return false
			}
			return true
		})
		if err != nil {
			return err
		}
		if resp.More && !tx.HasChangesAfter(last) {
			resp.More = false
		}
		resp.Cursor = syncengine.Cursor{Epoch: s.store.Epoch(), Seq: last}.Encode()
		return nil
	})
	if err != nil {
		return storeErr("pull", err)
	}
	resp.ServerTime = s.cfg.Now().UnixMilli()
	s.metrics.pullSeconds.Observe(time.Since(start).Seconds())
	return c.JSON(resp)
}

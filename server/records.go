package server

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// versionView shows who wrote a field's current value, when, and the flags
// of that write (restamped, clock_suspect…).
type versionView struct {
	HLC    string   `json:"hlc"`
	Device string   `json:"device"`
	Author string   `json:"author"`
	OpID   string   `json:"op_id"`
	Flags  []string `json:"flags,omitempty"`
}

type recordView struct {
	ID           string                     `json:"id"`
	Collection   string                     `json:"collection"`
	Area         string                     `json:"area"`
	Fields       map[string]json.RawMessage `json:"fields"`
	Versions     map[string]versionView     `json:"versions"`
	Deleted      bool                       `json:"deleted"`
	DeleteReason string                     `json:"delete_reason,omitempty"`
	Flags        []string                   `json:"flags"`
	UpdatedAt    time.Time                  `json:"updated_at"`
}

func viewRecord(r *syncengine.Record) recordView {
	v := recordView{ID: r.ID, Collection: r.Collection, Area: r.Area, Fields: r.Values(),
		Versions: map[string]versionView{}, Flags: r.Flags(), UpdatedAt: r.Version().Time()}
	v.Deleted, v.DeleteReason = r.Deleted()
	for name, f := range r.Fields {
		v.Versions[name] = versionView{HLC: f.HLC.String(), Device: f.Device, Author: f.Author, OpID: f.OpID, Flags: f.Flags}
	}
	return v
}

type opView struct {
	ID           string                     `json:"id"`
	Author       string                     `json:"author"`
	Device       string                     `json:"device"`
	HLC          string                     `json:"hlc"`
	StatedHLC    string                     `json:"stated_hlc,omitempty"`
	Set          map[string]json.RawMessage `json:"set,omitempty"`
	Delete       *syncengine.Tombstone      `json:"delete,omitempty"`
	Flags        []string                   `json:"flags,omitempty"`
	DeviceTime   *time.Time                 `json:"device_time,omitempty"`
	ServerTimeEs *time.Time                 `json:"server_time_estimate,omitempty"`
	ReceivedAt   time.Time                  `json:"received_at"`
}

func viewOp(so *boltstore.StoredOp) opView {
	op := so.Op()
	v := opView{ID: op.ID, Author: op.Author, Device: op.Device, HLC: op.HLC.String(), Set: op.Set,
		Delete: op.Tombstone, Flags: op.Flags, ReceivedAt: op.ReceivedAt}
	if op.StatedHLC != 0 {
		v.StatedHLC = op.StatedHLC.String()
	}
	if !op.DeviceTime.IsZero() {
		v.DeviceTime = &op.DeviceTime
	}
	if !op.ServerTimeEst.IsZero() {
		v.ServerTimeEs = &op.ServerTimeEst
	}
	return v
}

func (s *Server) handleGetRecord(c *fiber.Ctx) error {
	cl := claimsOf(c)
	col, id := c.Params("collection"), c.Params("id")
	if !s.schemas.Known(col) {
		return errInvalid("unknown collection %q", col)
	}
	var rec *syncengine.Record
	var hist []*boltstore.StoredOp
	err := s.store.View(func(tx *boltstore.Tx) (err error) {
		rec, err = tx.Record(col, id)
		if err != nil || rec == nil || !auth.InScope(cl.Scopes, rec.Area) {
			return err
		}
		if c.Query("history") == "1" {
			hist, err = tx.History(col, id)
		}
		return err
	})
	if err != nil {
		return storeErr("get record", err)
	}
	// Out of scope looks the same as absent: scopes must not leak existence.
	if rec == nil || !auth.InScope(cl.Scopes, rec.Area) {
		return syncengine.Errorf(syncengine.ENOTFOUND, "no record %s/%s", col, id)
	}
	out := fiber.Map{"record": viewRecord(rec)}
	if err := s.addEvidenceViews(c.UserContext(), rec, out); err != nil {
		return err
	}
	if hist != nil {
		views := make([]opView, len(hist))
		for i, so := range hist {
			views[i] = viewOp(so)
		}
		out["history"] = views
	}
	return c.JSON(out)
}

type candidateView struct {
	Value  json.RawMessage `json:"value"`
	Author string          `json:"author"`
	Device string          `json:"device"`
	HLC    string          `json:"hlc"`
	Time   time.Time       `json:"time"`
	OpID   string          `json:"op_id"`
	Winner bool            `json:"winner"`
}

// resolutionView is a supervisor's decision as the API shows it.
type resolutionView struct {
	By    string          `json:"by"`
	At    time.Time       `json:"at"`
	Value json.RawMessage `json:"value"`
	OpID  string          `json:"op_id,omitempty"` // the op that applied a value other than the winner
	Note  string          `json:"note,omitempty"`
}

type conflictView struct {
	ID         string          `json:"id"`
	Collection string          `json:"collection"`
	RecordID   string          `json:"record_id"`
	Area       string          `json:"area"`
	Field      string          `json:"field"`
	Status     string          `json:"status"`
	OpenedAt   time.Time       `json:"opened_at"`
	Candidates []candidateView `json:"candidates"`
	Resolution *resolutionView `json:"resolution,omitempty"`
}

func viewConflict(cf *syncengine.Conflict) conflictView {
	v := conflictView{ID: cf.ID, Collection: cf.Collection, RecordID: cf.RecordID, Area: cf.Area, Field: cf.Field,
		Status: cf.Status, OpenedAt: cf.OpenedAt}
	if r := cf.Resolution; r != nil {
		v.Resolution = &resolutionView{By: r.By, At: r.At, Value: r.Value, OpID: r.OpID, Note: r.Note}
	}
	for i, f := range cf.Candidates {
		v.Candidates = append(v.Candidates, candidateView{Value: f.Value, Author: f.Author, Device: f.Device,
			HLC: f.HLC.String(), Time: f.HLC.Time(), OpID: f.OpID, Winner: i == 0})
	}
	return v
}

func (s *Server) handleListConflicts(c *fiber.Ctx) error {
	cl := claimsOf(c)
	status := c.Query("status", syncengine.ConflictOpen)
	if status != syncengine.ConflictOpen && status != syncengine.ConflictResolved && status != "all" {
		return errInvalid("status must be open, resolved or all")
	}
	area := c.Query("area")
	if area != "" && !syncengine.ValidAreaPrefix(area) {
		return errInvalid("area must be 1 to 12 digits")
	}
	out := []conflictView{}
	err := s.store.View(func(tx *boltstore.Tx) error {
		return tx.Conflicts(func(cf *syncengine.Conflict) bool {
			if (status == "all" || cf.Status == status) && auth.InScope(cl.Scopes, cf.Area) && (area == "" || auth.InScope([]string{area}, cf.Area)) {
				out = append(out, viewConflict(cf))
			}
			return true
		})
	})
	if err != nil {
		return storeErr("list conflicts", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OpenedAt.Before(out[j].OpenedAt) })
	return c.JSON(fiber.Map{"conflicts": out})
}

type resolveRequest struct {
	// Value is the chosen value; absent confirms the merge winner.
	Value json.RawMessage `json:"value,omitempty"`
	Note  string          `json:"note,omitempty"`
}

// handleResolve records a supervisor's decision. Choosing a value other
// than the winner writes it as a new op by the supervisor, stamped now, so
// it wins everywhere and the history shows who decided.
func (s *Server) handleResolve(c *fiber.Ctx) error {
	cl := claimsOf(c)
	if !auth.CanResolveConflicts(cl.Role) {
		return errForbidden("role %s may not resolve conflicts", cl.Role)
	}
	var req resolveRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.Value) > 0 && !json.Valid(req.Value) {
		return errInvalid("value is not valid JSON")
	}
	id := c.Params("id")
	now := s.cfg.Now()
	var result *syncengine.Conflict
	err := s.store.UpdateSolo(func(tx *boltstore.Tx) error {
		cf, err := tx.Conflict(id)
		if err != nil {
			return err
		}
		if cf == nil || !auth.InScope(cl.Scopes, cf.Area) {
			return syncengine.Errorf(syncengine.ENOTFOUND, "no conflict %s", id)
		}
		if cf.Status != syncengine.ConflictOpen {
			return syncengine.Errorf(syncengine.ECONFLICT, "conflict %s is already resolved", id)
		}
		res := &syncengine.Resolution{By: cl.Subject, At: now.UTC(), Value: cf.Winner().Value, Note: req.Note}
		rec, err := tx.Record(cf.Collection, cf.RecordID)
		if err != nil {
			return err
		}
		if len(req.Value) > 0 && rec != nil && !syncengine.JSONEqual(req.Value, rec.Fields[cf.Field].Value) {
			if err := s.schemas.ValidatePatch(cf.Collection, map[string]json.RawMessage{cf.Field: req.Value}); err != nil {
				return errInvalid("%v", err)
			}
			// The choice must win the merge. A server that restarted since
			// the candidates arrived has a clock that never saw their
			// stamps, which may run a little ahead of it: stamp after them.
			for _, cand := range cf.Candidates {
				s.clock.Observe(cand.HLC)
			}
			s.clock.Observe(rec.Fields[cf.Field].HLC)
			op := &syncengine.Op{ID: "r" + cf.ID + "-" + auth.NewRefreshToken()[:8], RecordID: cf.RecordID, Collection: cf.Collection,
				Area: cf.Area, Author: cl.Subject, Device: "server", HLC: s.clock.Now(),
				Set: map[string]json.RawMessage{cf.Field: req.Value}, Base: map[string]string{cf.Field: rec.Fields[cf.Field].OpID},
				ReceivedAt: now.UTC()}
			if _, err := syncengine.Apply(tx, op, mergePolicy(s.schemas, cf.Collection), now); err != nil {
				return err
			}
			res.Value, res.OpID = req.Value, op.ID
		}
		cf.Status, cf.Resolution = syncengine.ConflictResolved, res
		result = cf
		return tx.PutConflict(cf)
	})
	if err != nil {
		return storeErr("resolve conflict", err)
	}
	return c.JSON(viewConflict(result))
}

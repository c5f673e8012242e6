package server

import (
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// versionView shows who wrote a field's current value, when, and the flags
// of that write (restamped, clock_suspect…). HLC is the packed stamp, the
// same integer as "h" in a pulled record and "hlc" in a pushed op; Time is
// its wall-clock part for people.
type versionView struct {
	HLC    uint64    `json:"hlc"`
	Time   time.Time `json:"time"`
	Device string    `json:"device"`
	Author string    `json:"author"`
	OpID   string    `json:"op_id"`
	Flags  []string  `json:"flags,omitempty"`
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
		v.Versions[name] = versionView{HLC: uint64(f.HLC), Time: f.HLC.Time(), Device: f.Device, Author: f.Author, OpID: f.OpID, Flags: f.Flags}
	}
	return v
}

// opView is one accepted op of a record's history. HLC is the stamp the op
// carries (packed like every HLC of the API); StatedHLC, present only on a
// restamped op, is the stamp the tablet gave.
type opView struct {
	ID           string                     `json:"id"`
	Author       string                     `json:"author"`
	Device       string                     `json:"device"`
	HLC          uint64                     `json:"hlc"`
	StatedHLC    uint64                     `json:"stated_hlc,omitempty"`
	Set          map[string]json.RawMessage `json:"set,omitempty"`
	Delete       *syncengine.Tombstone      `json:"delete,omitempty"`
	Flags        []string                   `json:"flags,omitempty"`
	DeviceTime   *time.Time                 `json:"device_time,omitempty"`
	ServerTimeEs *time.Time                 `json:"server_time_estimate,omitempty"`
	ReceivedAt   time.Time                  `json:"received_at"`
}

func viewOp(op *syncengine.Op) opView {
	v := opView{ID: op.ID, Author: op.Author, Device: op.Device, HLC: uint64(op.HLC), Set: op.Set,
		Delete: op.Tombstone, Flags: op.Flags, ReceivedAt: op.ReceivedAt}
	if op.StatedHLC != 0 {
		v.StatedHLC = uint64(op.StatedHLC)
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
	col, err := decodedParam(c, "collection")
	if err != nil {
		return err
	}
	id, err := decodedParam(c, "id")
	if err != nil {
		return err
	}
	rec, hist, err := s.core.Record(c.UserContext(), callerOf(c), col, id, c.Query("history") == "1")
	if err != nil {
		return err
	}
	out := fiber.Map{"record": viewRecord(rec)}
	if err := s.addEvidenceViews(c.UserContext(), rec, out); err != nil {
		return err
	}
	if hist != nil {
		views := make([]opView, len(hist))
		for i, op := range hist {
			views[i] = viewOp(op)
		}
		out["history"] = views
	}
	return c.JSON(out)
}

type candidateView struct {
	Value  json.RawMessage `json:"value"`
	Author string          `json:"author"`
	Device string          `json:"device"`
	HLC    uint64          `json:"hlc"`
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
			HLC: uint64(f.HLC), Time: f.HLC.Time(), OpID: f.OpID, Winner: i == 0})
	}
	return v
}

func (s *Server) handleListConflicts(c *fiber.Ctx) error {
	cfs, err := s.core.Conflicts(c.UserContext(), callerOf(c), core.ConflictFilter{Status: c.Query("status"), Area: c.Query("area")})
	if err != nil {
		return err
	}
	out := make([]conflictView, len(cfs))
	for i, cf := range cfs {
		out[i] = viewConflict(cf)
	}
	return c.JSON(fiber.Map{"conflicts": out})
}

type resolveRequest struct {
	// Value is the chosen value; absent confirms the merge winner.
	Value json.RawMessage `json:"value,omitempty"`
	Note  string          `json:"note,omitempty"`
}

// handleResolve records a supervisor's decision (core.Resolve).
func (s *Server) handleResolve(c *fiber.Ctx) error {
	var req resolveRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	id, err := decodedParam(c, "id")
	if err != nil {
		return err
	}
	cf, err := s.core.Resolve(c.UserContext(), callerOf(c), id, req.Value, req.Note)
	if err != nil {
		return err
	}
	return c.JSON(viewConflict(cf))
}

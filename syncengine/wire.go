package syncengine

import (
	"context"
	"encoding/json"
	"time"
)

// Wire limits shared by the SDK and the server.
const (
	// MaxPushOps is the largest batch the server takes in one push.
	MaxPushOps = 1000
	// MaxPullLimit is the largest page a pull returns.
	MaxPullLimit = 2000
	// DefaultPullLimit is the page size when the client names none.
	DefaultPullLimit = 500
)

// WireOp is an operation as it travels in a push. Keys are short because
// officers sync over 2G; gzip does the rest.
type WireOp struct {
	ID            string                     `json:"id"`
	RecordID      string                     `json:"rid"`
	Collection    string                     `json:"col"`
	Area          string                     `json:"area"`
	Author        string                     `json:"by"`
	Device        string                     `json:"dev"`
	HLC           uint64                     `json:"hlc"`
	Set           map[string]json.RawMessage `json:"set,omitempty"`
	Delete        *Tombstone                 `json:"del,omitempty"`
	Base          map[string]string          `json:"base,omitempty"`
	DeviceTime    int64                      `json:"dt,omitempty"` // ms since epoch, tablet clock
	ServerTimeEst int64                      `json:"st,omitempty"` // ms since epoch, tablet's estimate of server time
	ClockSuspect  bool                       `json:"cs,omitempty"`
}

// ToWire converts an op for sending.
func (op *Op) ToWire() WireOp {
	w := WireOp{
		ID: op.ID, RecordID: op.RecordID, Collection: op.Collection, Area: op.Area,
		Author: op.Author, Device: op.Device, HLC: uint64(op.HLC),
		Set: op.Set, Delete: op.Tombstone, Base: op.Base,
		ClockSuspect: op.HasFlag(FlagClockSuspect),
	}
	if !op.DeviceTime.IsZero() {
		w.DeviceTime = op.DeviceTime.UnixMilli()
	}
	if !op.ServerTimeEst.IsZero() {
		w.ServerTimeEst = op.ServerTimeEst.UnixMilli()
	}
	return w
}

// FromWire converts a received op. It does not validate: call Validate.
func (w *WireOp) FromWire() *Op {
	op := &Op{
		ID: w.ID, RecordID: w.RecordID, Collection: w.Collection, Area: w.Area,
		Author: w.Author, Device: w.Device, HLC: HLC(w.HLC),
		Set: w.Set, Tombstone: w.Delete, Base: w.Base,
	}
	if w.DeviceTime != 0 {
		op.DeviceTime = time.UnixMilli(w.DeviceTime).UTC()
	}
	if w.ServerTimeEst != 0 {
		op.ServerTimeEst = time.UnixMilli(w.ServerTimeEst).UTC()
	}
	if w.ClockSuspect {
		op.AddFlag(FlagClockSuspect)
	}
	return op
}

// PushRequest is the body of POST /v1/sync/push.
type PushRequest struct {
	Ops []WireOp `json:"ops"`
	// DeviceTime is the tablet's clock when it sent the batch (ms).
	DeviceTime int64 `json:"device_time,omitempty"`
}

// Rejection says why one op of a batch was refused. The other ops of the
// batch are unaffected.
type Rejection struct {
	OpID    string `json:"op_id"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// FlaggedOp reports server flags on an accepted op, and its stamp when the
// server restamped it.
type FlaggedOp struct {
	OpID  string   `json:"op_id"`
	Flags []string `json:"flags"`
	HLC   uint64   `json:"hlc,omitempty"`
}

// PushResponse is the answer to a push. Every op of the request is either
// acknowledged (applied now or before) or rejected.
type PushResponse struct {
	Acked      []string    `json:"acked"`
	Rejected   []Rejection `json:"rejected,omitempty"`
	Flagged    []FlaggedOp `json:"flagged,omitempty"`
	ServerTime int64       `json:"server_time"` // ms since epoch
}

// WireField is one field's version on the wire.
type WireField struct {
	Value  json.RawMessage `json:"v"`
	HLC    uint64          `json:"h"`
	Device string          `json:"d"`
	Author string          `json:"a"`
	OpID   string          `json:"o"`
	Base   string          `json:"b,omitempty"`
	Flags  []string        `json:"fl,omitempty"`
}

// WireRecord is a record's full merged state on the wire.
type WireRecord struct {
	ID         string               `json:"id"`
	Collection string               `json:"col"`
	Area       string               `json:"area"`
	Fields     map[string]WireField `json:"f"`
}

// ToWire converts a record for sending.
func (r *Record) ToWire() WireRecord {
	w := WireRecord{ID: r.ID, Collection: r.Collection, Area: r.Area, Fields: make(map[string]WireField, len(r.Fields))}
	for name, f := range r.Fields {
		w.Fields[name] = WireField{Value: f.Value, HLC: uint64(f.HLC), Device: f.Device, Author: f.Author, OpID: f.OpID, Base: f.Base, Flags: f.Flags}
	}
	return w
}

// FromWire converts a received record.
func (w *WireRecord) FromWire() *Record {
	r := &Record{ID: w.ID, Collection: w.Collection, Area: w.Area, Fields: make(map[string]FieldState, len(w.Fields))}
	for name, f := range w.Fields {
		r.Fields[name] = FieldState{Value: f.Value, HLC: HLC(f.HLC), Device: f.Device, Author: f.Author, OpID: f.OpID, Base: f.Base, Flags: f.Flags}
	}
	return r
}

// PullResponse is the answer to GET /v1/sync/pull.
type PullResponse struct {
	Records []WireRecord `json:"records"`
	// Cursor is the opaque position to send next time.
	Cursor string `json:"cursor"`
	// More is true when another page is ready now.
	More bool `json:"more"`
	// Reset tells the client its cursor was unknown (a restored server): it
	// must drop its copy of server state, keep its own unsent and sent ops,
	// re-push the sent ones and pull everything from the returned cursor.
	Reset      bool  `json:"reset"`
	ServerTime int64 `json:"server_time"` // ms since epoch
}

// Transport is how a replica talks to the server. The SDK implements it
// over HTTP; tests may implement it in memory.
type Transport interface {
	Push(ctx context.Context, req *PushRequest) (*PushResponse, error)
	Pull(ctx context.Context, cursor string, limit int) (*PullResponse, error)
}

// Package mobile is the gomobile facade of client-sdk: the tablet store and
// sync client for a native Android (or iOS) app, bound by gobind.
//
// Every exported name uses only types gobind can carry — string, []byte,
// int64, bool, error, the *Store handle and the SyncProgress callback
// interface — so records, reports and requests travel as JSON strings.
// The functions are thin wrappers over package client; what they store and
// send is exactly what the field app and the tablet CLI store and send.
//
// Errors reach Java and Kotlin as exceptions whose message is
// "CODE: message", CODE one of the stable codes of package syncengine
// (EINVALID, ENOTFOUND, ECONFLICT, EUNAUTHORIZED, EREVOKED, ETRANSIENT,
// EINTERNAL) and the message in Chinese where the SDK gives one.
//
// Every call blocks; an Android app calls them off the main thread. A
// Sync in flight ends early with Cancel or Close. With a PIN set
// (SetPIN), the personal fields stay sealed until Unlock.
package mobile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Phases reported to SyncProgress.OnProgress.
const (
	// PhasePush counts ops sent of those queued.
	PhasePush = client.PhasePush
	// PhasePull counts records received (total 0: the server does not say).
	PhasePull = client.PhasePull
	// PhaseFiles counts evidence bytes confirmed of those to send.
	PhaseFiles = "files"
)

// SyncProgress receives a sync's progress; an app implements it (in
// Kotlin: object : SyncProgress { override fun onProgress(...) }). It is
// called on the syncing thread, after every pushed batch, pulled page and
// confirmed file chunk.
type SyncProgress interface {
	OnProgress(phase string, done, total int64)
}

// Store is one tablet's store and sync client, opened by Open. It is safe
// for concurrent use; at most one Sync runs at a time.
type Store struct {
	c   *client.Client
	reg *schemas.Registry

	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	closed bool
}

// Open opens (or creates) the tablet store at path, a file in the app's
// private storage (its folder is created if missing); evidence files are
// kept in a folder beside it. Writes are checked against the shipped
// collection schemas before they are stored.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fail(fmt.Errorf("tablet store folder: %w", err))
	}
	reg, err := schemas.New()
	if err != nil {
		return nil, fail(fmt.Errorf("load schemas: %w", err))
	}
	c, err := client.Open(path, client.Options{
		Validator: reg,
		Policy: func(col string) syncengine.MergePolicy {
			p := reg.Policy(col)
			return syncengine.MergePolicy{AppendOnly: p.AppendOnly, Annotations: p.Annotations}
		},
		PIIFields: func(col string) []string { return reg.Policy(col).PII },
	})
	if err != nil {
		return nil, fail(err)
	}
	s := &Store{c: c, reg: reg}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Close cancels a Sync in flight and closes the store. Closing twice is
// harmless; every other call after Close fails with EINVALID.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.c == nil {
		return nil
	}
	s.closed = true
	s.cancel()
	return fail(s.c.Close())
}

// Cancel ends a Sync in flight (it returns a context error); the store
// stays open and the next Sync starts afresh.
func (s *Store) Cancel() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.c == nil {
		return
	}
	s.cancel()
	s.ctx, s.cancel = context.WithCancel(context.Background())
}

// context returns the context of a call: cancelled by Cancel and Close.
// A closed Store, or one made without Open (gobind gives Java a public
// constructor of the zero Store), answers EINVALID.
func (s *Store) context() (context.Context, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return nil, syncengine.Errorf(syncengine.EINVALID, "store not opened: use Mobile.open")
	}
	if s.closed {
		return nil, syncengine.Errorf(syncengine.EINVALID, "store is closed")
	}
	return s.ctx, nil
}

// Login signs a user in (needs the network once) and keeps the server
// address and the user's token, enough to Enroll.
func (s *Store) Login(serverURL, username, password string) error {
	ctx, err := s.context()
	if err != nil {
		return fail(err)
	}
	return fail(s.c.Login(ctx, serverURL, username, password))
}

// Enroll registers this tablet as a device of the logged-in user under
// deviceName (shown to supervisors, e.g. 平板-王).
func (s *Store) Enroll(deviceName string) error {
	ctx, err := s.context()
	if err != nil {
		return fail(err)
	}
	return fail(s.c.Enroll(ctx, deviceName))
}

// SetPIN sets or changes the PIN (4 to 12 digits) that, with the
// server's key share, unlocks the personal fields (names, addresses, ID
// numbers). The first PIN needs a sync within the share's lease; changing
// it needs the key unlocked.
func (s *Store) SetPIN(pin string) error {
	if _, err := s.context(); err != nil {
		return fail(err)
	}
	return fail(s.c.SetPIN(pin))
}

// Unlock unseals the personal fields with the PIN. A wrong PIN is EPIN
// and counts (EPINWAIT after three in a row; the policy's count wipes the
// store, EREVOKED); past the share's lease it is ELEASE: call RenewKeyShare
// (or Sync) first. Without a PIN set it does nothing.
func (s *Store) Unlock(pin string) error {
	if _, err := s.context(); err != nil {
		return fail(err)
	}
	return fail(s.c.Unlock(pin))
}

// Lock forgets the key in memory: personal fields read as sealed (ELOCKED)
// until Unlock. An app calls it when it goes to the background.
func (s *Store) Lock() {
	if _, err := s.context(); err == nil {
		s.c.Lock()
	}
}

// RenewKeyShare asks the server for this device's key share and a fresh
// lease (Sync does it first), so that Unlock works past an expired lease.
func (s *Store) RenewKeyShare() error {
	ctx, err := s.context()
	if err != nil {
		return fail(err)
	}
	return fail(s.c.RenewKeyShare(ctx))
}

// keyState is KeyState's answer.
type keyState struct {
	Protected      bool   `json:"protected"`
	Unlocked       bool   `json:"unlocked"`
	LeaseValid     bool   `json:"lease_valid"`
	LeaseUntil     string `json:"lease_until,omitempty"`
	PINFailures    int    `json:"pin_failures"`
	MaxPINFailures int    `json:"max_pin_failures"`
	RetryAt        string `json:"retry_at,omitempty"`
}

// KeyState answers the lock screen's facts: {"protected" (a PIN is set),
// "unlocked","lease_valid","lease_until","pin_failures",
// "max_pin_failures","retry_at"}.
func (s *Store) KeyState() (string, error) {
	if _, err := s.context(); err != nil {
		return "", fail(err)
	}
	ks, err := s.c.KeyState()
	if err != nil {
		return "", fail(err)
	}
	out := keyState{Protected: ks.Protected, Unlocked: ks.Unlocked, LeaseValid: ks.LeaseValid,
		PINFailures: ks.PINFailures, MaxPINFailures: ks.MaxPINFailures}
	if !ks.LeaseUntil.IsZero() {
		out.LeaseUntil = ks.LeaseUntil.UTC().Format(time.RFC3339)
	}
	if !ks.RetryAt.IsZero() {
		out.RetryAt = ks.RetryAt.UTC().Format(time.RFC3339)
	}
	return encode(out)
}

// saveResult is Save's answer.
type saveResult struct {
	ID   string `json:"id"`
	OpID string `json:"op_id"`
}

// Save records a change of fields on one record and queues it for the
// next Sync, in one transaction. fieldsJSON is a JSON object of field
// values, e.g. {"notes":"屋顶漏雨"}; recordID "" creates a new record with
// a fresh id (area is required then). It answers {"id","op_id"}.
func (s *Store) Save(collection, recordID, area, fieldsJSON string) (string, error) {
	ctx, err := s.context()
	if err != nil {
		return "", fail(err)
	}
	var fields map[string]json.RawMessage
	if err := decodeStrict(fieldsJSON, &fields); err != nil {
		return "", fail(syncengine.Errorf(syncengine.EINVALID, "fields: %v", err))
	}
	if recordID == "" {
		recordID = s.c.NewID()
	}
	op, err := s.c.Save(ctx, collection, recordID, area, fields)
	if err != nil {
		return "", fail(err)
	}
	return encode(saveResult{ID: recordID, OpID: op.ID})
}

// record is a record as Get and Query answer it.
type record struct {
	ID         string                     `json:"id"`
	Collection string                     `json:"collection"`
	Area       string                     `json:"area"`
	Values     map[string]json.RawMessage `json:"values"`
	Deleted    bool                       `json:"deleted,omitempty"`
	// Pending: a change made here is not yet acknowledged by the server.
	Pending bool     `json:"pending"`
	Flags   []string `json:"flags,omitempty"`
	Version string   `json:"version"`
}

func viewRecord(v *client.RecordView) record {
	return record{ID: v.ID, Collection: v.Collection, Area: v.Area, Values: v.Values, Deleted: v.Deleted,
		Pending: v.Pending, Flags: v.Flags, Version: v.Version.String()}
}

// Get answers one record as {"id","collection","area","values",
// "pending","version",…}, deleted ones included ("deleted": true).
func (s *Store) Get(collection, id string) (string, error) {
	if _, err := s.context(); err != nil {
		return "", fail(err)
	}
	v, err := s.c.Get(collection, id)
	if err != nil {
		return "", fail(err)
	}
	return encode(viewRecord(v))
}

// Query answers the live records of a collection as a JSON array (see
// Get), in id order. filterJSON keeps the records whose top-level fields
// equal the given JSON values, e.g. {"household_id":"h1"}; "" or "{}"
// keeps all.
func (s *Store) Query(collection, filterJSON string) (string, error) {
	if _, err := s.context(); err != nil {
		return "", fail(err)
	}
	var want map[string]json.RawMessage
	if filterJSON != "" {
		if err := decodeStrict(filterJSON, &want); err != nil {
			return "", fail(syncengine.Errorf(syncengine.EINVALID, "filter: %v", err))
		}
	}
	views, err := s.c.Query(collection, func(values map[string]json.RawMessage) bool {
		for k, v := range want {
			if !syncengine.JSONEqual(values[k], v) {
				return false
			}
		}
		return true
	})
	if err != nil {
		return "", fail(err)
	}
	out := make([]record, len(views))
	for i, v := range views {
		out[i] = viewRecord(v)
	}
	return encode(out)
}

// syncReport is Sync's answer.
type syncReport struct {
	Pushed    int `json:"pushed"`
	Rejected  int `json:"rejected"`
	Restamped int `json:"restamped"`
	Pulled    int `json:"pulled"`
	// Files: evidence items uploaded, left failed (retried next time) and
	// originals left for an unmetered network.
	FilesUploaded int   `json:"files_uploaded"`
	FilesFailed   int   `json:"files_failed"`
	FilesDeferred int   `json:"files_deferred"`
	FileBytes     int64 `json:"file_bytes"`
	WireBytes     int64 `json:"wire_bytes"`
	// ClockOffsetMs is server time − tablet time.
	ClockOffsetMs int64 `json:"clock_offset_ms"`
}

// Sync sends this tablet's changes and receives the server's, then uploads
// the evidence files — photo originals too when unmetered is true (the
// network is not paid by the byte). progress (may be nil) hears every
// step. It answers {"pushed","rejected","pulled","files_uploaded",…}; ops
// the server refused are parked (Rejected), never retried.
func (s *Store) Sync(unmetered bool, progress SyncProgress) (string, error) {
	ctx, err := s.context()
	if err != nil {
		return "", fail(err)
	}
	report := func(phase string, done, total int64) {
		if progress != nil {
			progress.OnProgress(phase, done, total)
		}
	}
	rep, err := s.c.Sync(ctx, func(p client.Progress) { report(p.Phase, int64(p.Done), int64(p.Total)) })
	if err != nil {
		return "", fail(err)
	}
	out := syncReport{Pushed: rep.Pushed, Rejected: rep.Rejected, Restamped: rep.Restamped, Pulled: rep.Pulled,
		WireBytes: rep.WireOut + rep.WireIn, ClockOffsetMs: rep.ClockOffset.Milliseconds()}
	upload := s.c.Upload
	if unmetered {
		upload = s.c.UploadAll
	}
	urep, err := upload(ctx, func(p client.UploadProgress) { report(PhaseFiles, p.Done, p.Total) })
	if err != nil {
		return "", fail(err)
	}
	out.FilesUploaded, out.FilesFailed, out.FilesDeferred, out.FileBytes = urep.Uploaded, urep.Failed, urep.Deferred, urep.BytesSent
	return encode(out)
}

// photoRequest is AttachPhoto's request.
type photoRequest struct {
	HouseholdID string      `json:"household_id"`
	CaseID      string      `json:"case_id"`
	Area        string      `json:"area"`
	Stage       string      `json:"stage"`
	CapturedAt  time.Time   `json:"captured_at"`
	GPS         *client.GPS `json:"gps"`
	Note        string      `json:"note"`
}

// AttachPhoto keeps a photo (JPEG or PNG as the camera wrote it) as
// evidence of a household or housing case: requestJSON is
// {"household_id" or "case_id", "stage": before|during|after,
// "captured_at" (RFC 3339, optional), "gps": {"lat","lon","accuracy_m"}
// (optional), "note", "area" (optional)}. The photos record syncs with the
// next Sync, its files upload after it. It answers the photos record id.
func (s *Store) AttachPhoto(requestJSON string, original []byte) (string, error) {
	ctx, err := s.context()
	if err != nil {
		return "", fail(err)
	}
	var req photoRequest
	if err := decodeStrict(requestJSON, &req); err != nil {
		return "", fail(syncengine.Errorf(syncengine.EINVALID, "photo request: %v", err))
	}
	// gobind lends the bytes for the call only: keep a copy.
	id, err := s.c.AttachPhoto(ctx, client.PhotoAttachment{HouseholdID: req.HouseholdID, CaseID: req.CaseID, Area: req.Area,
		Stage: req.Stage, Original: bytes.Clone(original), CapturedAt: req.CapturedAt, GPS: req.GPS, Note: req.Note})
	return id, fail(err)
}

// signatureRequest is CaptureSignature's request.
type signatureRequest struct {
	SignerName       string          `json:"signer_name"`
	SignerRole       string          `json:"signer_role"`
	SignedCollection string          `json:"signed_collection"`
	SignedRecordID   string          `json:"signed_record_id"`
	Purpose          string          `json:"purpose"`
	Strokes          []client.Stroke `json:"strokes"`
	SignedAt         time.Time       `json:"signed_at"`
}

// CaptureSignature records a signature written on the pad and signs it
// with this device's key: requestJSON is {"signer_name","signer_role"
// (household_head, officer …), "signed_collection","signed_record_id",
// "purpose" (visit, acceptance …), "strokes": [[{"x","y","t"}, …], …]
// (t in ms since the first touch), "signed_at" (optional)}. It answers the
// signatures record id.
func (s *Store) CaptureSignature(requestJSON string) (string, error) {
	ctx, err := s.context()
	if err != nil {
		return "", fail(err)
	}
	var req signatureRequest
	if err := decodeStrict(requestJSON, &req); err != nil {
		return "", fail(syncengine.Errorf(syncengine.EINVALID, "signature request: %v", err))
	}
	id, err := s.c.CaptureSignature(ctx, client.SignatureCapture{SignerName: req.SignerName, SignerRole: req.SignerRole,
		SignedCollection: req.SignedCollection, SignedRecordID: req.SignedRecordID, Purpose: req.Purpose,
		Strokes: req.Strokes, SignedAt: req.SignedAt})
	return id, fail(err)
}

// status is Status's answer.
type status struct {
	Server     string `json:"server"`
	User       string `json:"user"`
	Role       string `json:"role"`
	DeviceID   string `json:"device_id"`
	DeviceName string `json:"device_name"`
	Enrolled   bool   `json:"enrolled"`
	// Ops waiting in the outbox, acknowledged, and refused by the server.
	PendingOps  int `json:"pending_ops"`
	SentOps     int `json:"sent_ops"`
	RejectedOps int `json:"rejected_ops"`
	// Evidence files not yet uploaded and their bytes left to send.
	PendingFiles     int    `json:"pending_files"`
	PendingFileBytes int64  `json:"pending_file_bytes"`
	LastSync         string `json:"last_sync,omitempty"`
	ClockOffsetMs    int64  `json:"clock_offset_ms"`
	ClockOffsetKnown bool   `json:"clock_offset_known"`
	StorageBytes     int64  `json:"storage_bytes"`
}

// Status answers what the tablet knows of its sync state:
// {"user","role","enrolled","pending_ops","rejected_ops","pending_files",
// "last_sync",…}.
func (s *Store) Status() (string, error) {
	if _, err := s.context(); err != nil {
		return "", fail(err)
	}
	st, err := s.c.Status()
	if err != nil {
		return "", fail(err)
	}
	out := status{Server: st.Server, User: st.User, Role: st.Role, DeviceID: st.DeviceID, DeviceName: st.DeviceName,
		Enrolled: st.Enrolled, PendingOps: st.Pending, SentOps: st.Sent, RejectedOps: st.Rejected,
		ClockOffsetMs: st.ClockOffset.Milliseconds(), ClockOffsetKnown: st.ClockOffsetKnown}
	if !st.LastSync.IsZero() {
		out.LastSync = st.LastSync.UTC().Format(time.RFC3339)
	}
	q, err := s.c.UploadQueue()
	if err != nil {
		return "", fail(err)
	}
	for _, it := range q {
		if it.State != client.UploadDone {
			out.PendingFiles++
			out.PendingFileBytes += it.Size - it.Sent
		}
	}
	if out.StorageBytes, err = s.c.StorageBytes(); err != nil {
		return "", fail(err)
	}
	return encode(out)
}

// rejectedOp is one entry of Rejected's answer.
type rejectedOp struct {
	OpID       string                     `json:"op_id"`
	Collection string                     `json:"collection"`
	RecordID   string                     `json:"record_id"`
	Set        map[string]json.RawMessage `json:"set,omitempty"`
	Code       string                     `json:"code"`
	Message    string                     `json:"message"`
	At         time.Time                  `json:"at"`
}

// Rejected answers the ops the server refused, parked in the order they
// were made, each with its code and reason, as a JSON array: the app shows
// them so the user can fix and Save again.
func (s *Store) Rejected() (string, error) {
	if _, err := s.context(); err != nil {
		return "", fail(err)
	}
	list, err := s.c.Rejected()
	if err != nil {
		return "", fail(err)
	}
	out := make([]rejectedOp, len(list))
	for i, r := range list {
		out[i] = rejectedOp{OpID: r.Op.ID, Collection: r.Op.Collection, RecordID: r.Op.RecordID, Set: r.Op.Set,
			Code: r.Code, Message: r.Message, At: r.At}
	}
	return encode(out)
}

// fail turns err into the error a binding shows: "CODE: message". An
// internal error keeps its detail (the app's own process, nothing leaks
// to another user). nil stays nil.
func fail(err error) error {
	if err == nil {
		return nil
	}
	code := syncengine.ErrorCode(err)
	msg := syncengine.ErrorMessage(err)
	switch {
	case errors.Is(err, context.Canceled):
		code, msg = syncengine.ETRANSIENT, "已取消"
	case code == syncengine.EINTERNAL:
		msg = err.Error()
	}
	return errors.New(code + ": " + msg)
}

// decodeStrict decodes one JSON value into v, refusing unknown fields of
// structs and trailing data.
func decodeStrict(s string, v any) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func encode(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fail(fmt.Errorf("encode answer: %w", err))
	}
	return string(b), nil
}

package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/client-sdk/mobile"
)

// progressLog records what a SyncProgress hears, as an app's callback
// would.
type progressLog struct {
	mu    sync.Mutex
	steps map[string][2]int64 // phase → last done, total
}

func (p *progressLog) OnProgress(phase string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.steps == nil {
		p.steps = map[string][2]int64{}
	}
	p.steps[phase] = [2]int64{done, total}
}

func (p *progressLog) last(phase string) ([2]int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.steps[phase]
	return s, ok
}

// TestMobileFacadeAgainstTheServer drives the gomobile facade as an
// Android app would, every value a string, []byte, bool or int64, against
// a real server: open, log in, enrol, sync; query the assigned household
// and its members with a JSON filter; save a visit, attach two photos,
// capture the household's signature over the visit; sync with originals —
// progress heard for push, pull and files — and the server holds the
// visit, the photos' evidence is complete and the signature is valid.
// Errors come back as "CODE: message"; a closed store reopens with its
// login and enrolment.
func TestMobileFacadeAgainstTheServer(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "server"))
	registerOverdueHousehold(t, dir, srv.url)
	dbPath := filepath.Join(dir, "android", "tablet.db")

	s, err := mobile.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Login(srv.url, "wang", "wrong password"); err == nil || !strings.HasPrefix(err.Error(), "EUNAUTHORIZED: ") {
		t.Fatalf("login with a wrong password: %v, want EUNAUTHORIZED: …", err)
	}
	if err := s.Login(srv.url, "wang", demoPassword); err != nil {
		t.Fatal(err)
	}
	if err := s.Enroll("平板-王"); err != nil {
		t.Fatal(err)
	}
	var first progressLog
	out, err := s.Sync(false, &first)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Pushed, Pulled, Rejected int
		FilesUploaded            int `json:"files_uploaded"`
	}
	mustDecode(t, out, &rep)
	if pulled, ok := first.last(mobile.PhasePull); rep.Pulled == 0 || !ok || pulled[0] != int64(rep.Pulled) {
		t.Fatalf("first sync %s; pull progress %v (heard %v)", out, pulled, ok)
	}

	// A PIN seals the personal fields: locked, the household's head name
	// cannot be read; a wrong PIN is refused, the right one unseals.
	if err := s.SetPIN("2468"); err != nil {
		t.Fatal(err)
	}
	s.Lock()
	if out, err = s.KeyState(); err != nil || !strings.Contains(out, `"protected":true,"unlocked":false,"lease_valid":true`) {
		t.Fatalf("key state after Lock: %s, %v", out, err)
	}
	if out, err := s.Query("households", `{"head_name":"周桂芳"}`); err == nil && strings.Contains(out, appHousehold) {
		t.Fatalf("a locked store found the household by its sealed head name: %s", out)
	}
	if err := s.Unlock("1357"); err == nil || !strings.HasPrefix(err.Error(), "EPIN: ") {
		t.Fatalf("unlock with a wrong PIN: %v", err)
	}
	if err := s.Unlock("2468"); err != nil {
		t.Fatal(err)
	}
	if err := s.RenewKeyShare(); err != nil {
		t.Fatal(err)
	}

	// The assigned household and its members, found by JSON filters.
	out, err = s.Query("households", `{"head_name":"周桂芳"}`)
	if err != nil {
		t.Fatal(err)
	}
	var households []struct {
		ID     string
		Area   string
		Values map[string]json.RawMessage
	}
	mustDecode(t, out, &households)
	if len(households) != 1 || households[0].ID != appHousehold || households[0].Area != "340199001001" {
		t.Fatalf("households named 周桂芳: %s", out)
	}
	out, err = s.Query("members", fmt.Sprintf(`{"household_id":%q}`, appHousehold))
	if err != nil {
		t.Fatal(err)
	}
	var members []struct {
		ID     string
		Values map[string]json.RawMessage
	}
	mustDecode(t, out, &members)
	if len(members) != 2 {
		t.Fatalf("members of %s: %s", appHousehold, out)
	}
	head := members[slices.IndexFunc(members, func(m struct {
		ID     string
		Values map[string]json.RawMessage
	}) bool {
		return jsonStr(m.Values["relation"]) == "head"
	})]

	// A visit, two photos and the household head's signature.
	visit, _ := json.Marshal(map[string]any{"household_id": appHousehold, "officer": "wang",
		"visited_at": time.Now().UTC().Truncate(time.Second).Format(time.RFC3339), "answered_by_member_id": head.ID,
		"checklist": map[string]string{"food": "ok", "clothing": "ok", "education": "ok", "medical": "ok", "housing": "problem", "drinking_water": "ok"},
		"notes":     "屋顶漏雨，已报村委。"})
	out, err = s.Save("visits", "", "340199001001", string(visit))
	if err != nil {
		t.Fatal(err)
	}
	var saved struct{ ID, OpID string }
	mustDecode(t, out, &saved)
	if saved.ID == "" {
		t.Fatalf("save answered %s", out)
	}
	if _, err := s.Save("visits", "", "340199001001", `{"household_id":`); err == nil || !strings.HasPrefix(err.Error(), "EINVALID: ") {
		t.Fatalf("save of broken JSON: %v", err)
	}
	if _, err := s.Save("visits", "", "340199001001", `{"household_id":"x","checklist":{"food":"maybe"}}`); err == nil || !strings.HasPrefix(err.Error(), "EINVALID: ") {
		t.Fatalf("save the schema refuses: %v", err)
	}
	var photos []string
	for i, stage := range []string{"before", "during"} {
		req := fmt.Sprintf(`{"household_id":%q,"stage":%q,"gps":{"lat":31.7051,"lon":117.1402,"accuracy_m":8},"note":"第%d张"}`, appHousehold, stage, i+1)
		id, err := s.AttachPhoto(req, cameraJPEG(t, 1200, 900, uint64(40+i)))
		if err != nil {
			t.Fatalf("attach photo %d: %v", i+1, err)
		}
		photos = append(photos, id)
	}
	if _, err := s.AttachPhoto(fmt.Sprintf(`{"household_id":%q,"stage":"before"}`, appHousehold), []byte("not an image")); err == nil || !strings.HasPrefix(err.Error(), "EINVALID: ") {
		t.Fatalf("attach a non-image: %v", err)
	}
	strokes := [][]map[string]float64{}
	for s := range 2 {
		var st []map[string]float64
		for i := range 12 {
			st = append(st, map[string]float64{"x": float64(20 + 15*i), "y": float64(40 + 30*s + (i%3)*5), "t": float64(400*s + 16*i)})
		}
		strokes = append(strokes, st)
	}
	sigReq, _ := json.Marshal(map[string]any{"signer_name": "周桂芳", "signer_role": "household_head", "signed_collection": "visits",
		"signed_record_id": saved.ID, "purpose": "visit", "strokes": strokes})
	sigID, err := s.CaptureSignature(string(sigReq))
	if err != nil {
		t.Fatal(err)
	}

	out, err = s.Status()
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		User         string `json:"user"`
		Enrolled     bool   `json:"enrolled"`
		PendingOps   int    `json:"pending_ops"`
		PendingFiles int    `json:"pending_files"`
		LastSync     string `json:"last_sync"`
	}
	mustDecode(t, out, &st)
	t.Logf("status before the second sync: %s", out)
	// The visit, two photos records and the signature wait; so do the
	// photos' files (an original and its evidence copy, or the original
	// alone when the copy would not be smaller) and the signature's PNG.
	if st.User != "wang" || !st.Enrolled || st.PendingOps != 4 || st.PendingFiles < 3 || st.LastSync == "" {
		t.Fatalf("status before the second sync: %s", out)
	}

	var second progressLog
	out, err = s.Sync(true, &second)
	if err != nil {
		t.Fatal(err)
	}
	mustDecode(t, out, &rep)
	t.Logf("second sync: %s", out)
	push, pushed := second.last(mobile.PhasePush)
	files, uploaded := second.last(mobile.PhaseFiles)
	if rep.Pushed != 4 || rep.Rejected != 0 || rep.FilesUploaded < 3 || !pushed || push != [2]int64{4, 4} || !uploaded || files[0] != files[1] || files[1] == 0 {
		t.Fatalf("second sync %s; progress push %v files %v", out, push, files)
	}
	if out, err = s.Status(); err != nil {
		t.Fatal(err)
	}
	mustDecode(t, out, &st)
	if st.PendingOps != 0 || st.PendingFiles != 0 {
		t.Fatalf("status after the sync: %s", out)
	}

	// The server's side.
	wang := login(t, srv.url, "wang")
	var onServer struct {
		Record struct {
			Fields map[string]json.RawMessage `json:"fields"`
		} `json:"record"`
		Evidence *struct {
			Status string `json:"status"`
		} `json:"evidence"`
		SignatureStatus string `json:"signature_status"`
	}
	if code := wang.do("GET", "/v1/records/visits/"+saved.ID, nil, &onServer); code != 200 || jsonStr(onServer.Record.Fields["notes"]) != "屋顶漏雨，已报村委。" {
		t.Fatalf("visit on the server: %d %v", code, onServer.Record.Fields)
	}
	for _, id := range photos {
		onServer.Evidence = nil
		if code := wang.do("GET", "/v1/records/photos/"+id, nil, &onServer); code != 200 || onServer.Evidence == nil || onServer.Evidence.Status != "complete" {
			t.Fatalf("photo %s on the server: %d, evidence %+v", id, code, onServer.Evidence)
		}
	}
	if code := wang.do("GET", "/v1/records/signatures/"+sigID, nil, &onServer); code != 200 || onServer.SignatureStatus != "valid" {
		t.Fatalf("signature on the server: %d %q", code, onServer.SignatureStatus)
	}

	// Closed, every call says so; reopened, the login and enrolment hold
	// and the synced visit reads back.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := s.Status(); err == nil || !strings.HasPrefix(err.Error(), "EINVALID: ") {
		t.Fatalf("status after close: %v", err)
	}
	s2, err := mobile.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if out, err = s2.Get("visits", saved.ID); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Pending bool
		Values  map[string]json.RawMessage
	}
	mustDecode(t, out, &got)
	if got.Pending || jsonStr(got.Values["answered_by_member_id"]) != head.ID {
		t.Fatalf("visit after reopening: %s", out)
	}
	if out, err = s2.Sync(false, nil); err != nil || !strings.Contains(out, "pushed") {
		t.Fatalf("sync after reopening, no progress callback: %s, %v", out, err)
	}
	if _, err := s2.Get("visits", "no-such-visit"); err == nil || !strings.HasPrefix(err.Error(), "ENOTFOUND: ") {
		t.Fatalf("get of an absent record: %v", err)
	}
}

func mustDecode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
}

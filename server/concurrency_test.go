package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// postPush sends a push from any goroutine (no t.Fatal) and returns the
// decoded answer.
func (ts *testServer) postPush(s *session, ops []syncengine.WireOp) (syncengine.PushResponse, error) {
	var out syncengine.PushResponse
	body, err := json.Marshal(syncengine.PushRequest{Ops: ops})
	if err != nil {
		return out, err
	}
	req, err := http.NewRequest("POST", ts.url+"/v1/sync/push", bytes.NewReader(body))
	if err != nil {
		return out, err
	}
	req.Header.Set("Authorization", "Bearer "+s.access)
	req.Header.Set("Content-Type", "application/json")
	resp, err := ts.client.Do(req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return out, fmt.Errorf("status %d", resp.StatusCode)
	}
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// TestConcurrentPushes: six tablets push at once, and every batch is sent
// twice at the same moment (a tablet retrying while its first request is
// still in flight). Every op is acked, applied once, and listed once in
// history.
func TestConcurrentPushes(t *testing.T) {
	ts := startServer(t, serverOptions{users: pick(testUsers(), "wang", "li"), seed: standardSeed()})
	var tablets []*session
	for _, u := range []string{"wang", "li"} {
		tablets = append(tablets, ts.as(u), ts.newDevice(u), ts.newDevice(u))
	}
	const batches, perBatch = 4, 10
	type batch struct {
		s   *session
		ops []syncengine.WireOp
	}
	var all []batch
	for ti, s := range tablets {
		for b := 0; b < batches; b++ {
			var ops []syncengine.WireOp
			for i := 0; i < perBatch; i++ {
				id := fmt.Sprintf("cc-%d-%d-%d", ti, b, i)
				ops = append(ops, ts.op(s, id, "households", id, areaV1, createFields("households", areaV1, s.user)))
			}
			// Every tablet also edits one shared record.
			ops = append(ops, ts.op(s, fmt.Sprintf("cc-shared-%d-%d", ti, b), "households", "hV1b", areaV1, map[string]any{"notes": fmt.Sprint(ti, b)}))
			all = append(all, batch{s, ops})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(all))
	for _, b := range all {
		for range 2 {
			wg.Add(1)
			go func(b batch) {
				defer wg.Done()
				resp, err := ts.postPush(b.s, b.ops)
				if err != nil {
					errs <- err
					return
				}
				if len(resp.Acked) != len(b.ops) || len(resp.Rejected) != 0 {
					errs <- fmt.Errorf("batch of %d: %d acked, rejected %+v", len(b.ops), len(resp.Acked), resp.Rejected)
				}
			}(b)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	err := ts.store.View(func(tx *boltstore.Tx) error {
		for _, b := range all {
			for _, op := range b.ops {
				hist, err := tx.History(op.Collection, op.RecordID)
				if err != nil {
					return err
				}
				n := 0
				for _, h := range hist {
					if h.ID == op.ID {
						n++
					}
				}
				if n != 1 {
					t.Errorf("op %s is %d times in history", op.ID, n)
				}
			}
		}
		hist, err := tx.History("households", "hV1b")
		if err != nil {
			return err
		}
		if want := 1 + len(all); len(hist) != want {
			t.Errorf("shared record history has %d ops, want %d", len(hist), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := ts.pullAll(ts.as("wang"), "", 0)
	if want := 11 + len(tablets)*batches*perBatch; len(keys) != want {
		t.Errorf("pull returned %d records, want %d", len(keys), want)
	}
}

// TestAdminUsers: the admin API refuses bad accounts with the right code,
// and an account it creates can sign in.
func TestAdminUsers(t *testing.T) {
	ts := startServer(t, serverOptions{users: pick(testUsers(), "admin")})
	admin := ts.as("admin").login
	tests := []struct {
		name   string
		in     any
		status int
		code   string
	}{
		{"valid", server.UserInput{Username: "zhou", Password: testPassword, Role: "township", Scopes: []string{"340199002"}}, 201, ""},
		{"taken", server.UserInput{Username: "zhou", Password: testPassword, Role: "township", Scopes: []string{"340199002"}}, 409, syncengine.ECONFLICT},
		{"unknown role", server.UserInput{Username: "qian", Password: testPassword, Role: "mayor", Scopes: []string{"34"}}, 400, syncengine.EINVALID},
		{"no scope", server.UserInput{Username: "qian", Password: testPassword, Role: "officer"}, 400, syncengine.EINVALID},
		{"everything scope for a non-admin", server.UserInput{Username: "qian", Password: testPassword, Role: "county", Scopes: []string{""}}, 400, syncengine.EINVALID},
		{"short password", server.UserInput{Username: "qian", Password: "1234567", Role: "officer", Scopes: []string{"34"}}, 400, syncengine.EINVALID},
		{"bad username", server.UserInput{Username: "Qian Li", Password: testPassword, Role: "officer", Scopes: []string{"34"}}, 400, syncengine.EINVALID},
		{"unknown field", map[string]any{"username": "qian", "password": testPassword, "role": "officer", "scopes": []string{"34"}, "admin": true}, 400, syncengine.EINVALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("POST", "/v1/admin/users", admin, tc.in)
			if tc.status == 201 {
				if r.status != 201 {
					t.Errorf("got %s", r)
				}
				return
			}
			ts.expectError(r, tc.status, tc.code)
		})
	}
	ts.login("zhou", testPassword)
	ts.expectError(ts.do("POST", "/v1/auth/login", "", map[string]string{"username": "qian", "password": testPassword}), 401, syncengine.EUNAUTHORIZED)
	ts.expectError(ts.do("POST", "/v1/auth/login", "", map[string]string{"username": "zhou"}), 400, syncengine.EINVALID)
	ts.expectError(ts.do("POST", "/v1/admin/devices/dnosuch/revoke", admin, nil), 404, syncengine.ENOTFOUND)
}

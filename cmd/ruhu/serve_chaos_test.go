package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/pgstore"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
)

// TestKillAnInstanceAndRestartPostgresMidPush: two `ruhu serve` processes
// on a PostgreSQL server the test started itself, 12 tablets pushing
// visits to either at random. One server is SIGKILLed mid-push and
// restarted; then PostgreSQL itself is stopped like a crash and
// restarted. While it is down the servers answer 503 ETRANSIENT (never
// EINTERNAL), the tablets retry, and in the end every visit is on the
// server exactly once and on every tablet.
func TestKillAnInstanceAndRestartPostgresMidPush(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and server processes; skipped in -short")
	}
	pg := pgtest.Start(t)
	url := pg.URL("postgres")
	dir := t.TempDir()
	var procs [2]*serverProcess
	var logs [2]string
	for i := range procs {
		logs[i] = filepath.Join(dir, fmt.Sprintf("server%d.log", i))
		f, err := os.Create(logs[i])
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		procs[i] = &serverProcess{t: t, addr: freeAddr(t), data: filepath.Join(dir, fmt.Sprintf("server%d", i)), store: url, log: f}
		procs[i].start()
		defer procs[i].stop()
	}
	hosts := []string{procs[0].addr, procs[1].addr}
	base := "http://" + hosts[0]
	ctx := context.Background()
	picker := newInstancePicker(hosts...)

	const tablets, rounds, perRound = 12, 8, 5
	admin := login(t, base, "admin")
	township := newTablet(t, dir, base, "township1")
	var users []string
	for i := range tablets {
		u := fmt.Sprintf("chaos%02d", i)
		users = append(users, u)
		if code := admin.do("POST", "/v1/admin/users", map[string]any{"username": u, "password": demoPassword, "role": "officer", "scopes": []string{"340199001"}}, nil); code != 201 {
			t.Fatalf("add user %s: %d", u, code)
		}
		if _, err := township.Save(ctx, "assignments", "chaos-a-"+u, demoArea, rawFields(t, map[string]any{"officer": u, "household_id": demoHousehold, "active": true})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := township.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	reg := testSchemas(t)
	clients := make([]*client.Client, tablets)
	for i, u := range users {
		c, err := client.Open(filepath.Join(dir, "tablet-"+u+".db"), client.Options{Validator: reg, Policy: mergePolicy(reg),
			HTTPClient: &http.Client{Transport: picker, Timeout: 30 * time.Second}, RetryBase: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, MaxAttempts: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(ctx, base, u, demoPassword); err != nil {
			t.Fatalf("login %s: %v", u, err)
		}
		if err := c.Enroll(ctx, "tablet of "+u); err != nil {
			t.Fatalf("enroll %s: %v", u, err)
		}
		clients[i] = c
	}

	var acked, failedSyncs atomic.Int64
	saved := make([][]string, tablets)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				for k := range perRound {
					id := clients[i].NewID()
					if _, err := clients[i].Save(ctx, "visits", id, demoArea, visitFields(t, demoHousehold, users[i], r*perRound+k)); err != nil {
						t.Errorf("save: %v", err)
						return
					}
					saved[i] = append(saved[i], id)
				}
				rep, err := clients[i].Sync(ctx, nil) // fails while a server or the database is down; the outbox keeps the ops
				if err != nil {
					failedSyncs.Add(1)
				}
				acked.Add(int64(rep.Pushed))
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	total := int64(tablets * rounds * perRound)
	waitAcked := func(n int64) {
		for deadline := time.Now().Add(2 * time.Minute); acked.Load() < n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("only %d ops acknowledged, waiting for %d", acked.Load(), n)
			}
		}
	}
	waitAcked(total / 4)
	procs[0].kill()
	t.Logf("SIGKILL server 0 after %d acknowledged ops", acked.Load())
	time.Sleep(200 * time.Millisecond)
	procs[0].start()

	waitAcked(total / 2)
	pg.Stop()
	t.Logf("PostgreSQL stopped after %d acknowledged ops", acked.Load())
	var transient, internal int
	for _, h := range hosts {
		var e struct {
			Code string `json:"code"`
		}
		resp, err := http.Get("http://" + h + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		switch {
		case resp.StatusCode == 503 && e.Code == "ETRANSIENT":
			transient++
		case e.Code == "EINTERNAL":
			internal++
		default:
			t.Errorf("/healthz on %s while PostgreSQL is down: %d %s", h, resp.StatusCode, e.Code)
		}
	}
	time.Sleep(time.Second)
	pg.Restart()
	t.Logf("PostgreSQL restarted after %d acknowledged ops", acked.Load())
	if transient != 2 || internal != 0 {
		t.Errorf("while PostgreSQL was down: %d servers answered ETRANSIENT, %d EINTERNAL", transient, internal)
	}
	wg.Wait()
	for i, c := range clients {
		for try := 0; ; try++ {
			if _, err := c.Sync(ctx, nil); err == nil {
				st, err := c.Status()
				if err != nil {
					t.Fatal(err)
				}
				if st.Pending == 0 {
					break
				}
			}
			if try > 20 {
				t.Fatalf("tablet %d never drained its outbox", i)
			}
		}
	}
	for _, c := range clients { // the last pushes reach everyone
		if _, err := c.Sync(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}

	s, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, lost, doubled := visitTally(t, s.Core(), saved)
	t.Logf("%d visits, %d syncs failed and were retried, requests %v: %d lost, %d doubled", len(all), failedSyncs.Load(), picker.hits, lost, doubled)
	if int64(len(all)) != total || lost != 0 || doubled != 0 {
		t.Fatalf("%d visits saved of %d, %d lost, %d doubled", len(all), total, lost, doubled)
	}
	requireEveryVisit(t, clients, all)
	if err := core.New(slog.New(slog.DiscardHandler), s.Core(), nil, core.Options{}).Check(ctx); err != nil {
		t.Errorf("store check: %v", err)
	}
	// A failure the servers took for a bug is logged as an error: none
	// of the outage's failures may be.
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "level=ERROR") {
				t.Errorf("%s: %s", filepath.Base(l), line)
			}
		}
	}
}

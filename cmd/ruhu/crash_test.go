package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/server/boltstore"
)

// TestMain lets the test binary act as the ruhu binary: with
// RUHU_TEST_RUN_ARGS set it runs those arguments and exits, so crash tests
// can start a real server process and SIGKILL it.
func TestMain(m *testing.M) {
	if args := os.Getenv("RUHU_TEST_RUN_ARGS"); args != "" {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			ch := make(chan os.Signal, 1)
			signalNotify(ch)
			<-ch
			cancel()
		}()
		if err := run(ctx, strings.Fields(args), os.Getenv, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	browsers.Close() // the field app tests' Chromium (app_test.go)
	os.Exit(code)
}

// serverProcess is `ruhu serve` in a child process.
type serverProcess struct {
	t    *testing.T
	addr string
	data string
	// store is --store: "" for the bbolt file in data, or a postgres:// URL.
	store string
	// blobs is --blobs: "" for the folder in data.
	blobs string
	cmd   *exec.Cmd
	log   *os.File
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (p *serverProcess) start() {
	p.t.Helper()
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	args := "serve --seed-demo --listen " + p.addr + " --data " + p.data
	if p.store != "" {
		args += " --store " + p.store
	}
	if p.blobs != "" {
		args += " --blobs " + p.blobs
	}
	p.cmd.Env = append(os.Environ(), "RUHU_TEST_RUN_ARGS="+args)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + p.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatal("server process did not become healthy")
}

func (p *serverProcess) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

func (p *serverProcess) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
}

// TestServerKilledWhileTabletsPush kills the server process with SIGKILL
// while 20 tablets push visits, restarts it, and lets the tablets finish:
// every op the tablets made is on the server exactly once.
func TestServerKilledWhileTabletsPush(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts a server process; skipped in -short")
	}
	dir := t.TempDir()
	logf, _ := os.Create(filepath.Join(dir, "server.log"))
	defer logf.Close()
	p := &serverProcess{t: t, addr: freeAddr(t), data: filepath.Join(dir, "server"), log: logf}
	p.start()
	url := "http://" + p.addr
	ctx := context.Background()

	const tablets, rounds, perRound = 20, 8, 10
	admin := login(t, url, "admin")
	township := newTablet(t, dir, url, "township1")
	var users []string
	for i := 0; i < tablets; i++ {
		u := fmt.Sprintf("crash%02d", i)
		users = append(users, u)
		if code := admin.do("POST", "/v1/admin/users", map[string]any{"username": u, "password": demoPassword, "role": "officer", "scopes": []string{"340199001"}}, nil); code != 201 {
			t.Fatalf("add user %s: %d", u, code)
		}
		if _, err := township.Save(ctx, "assignments", "crash-a-"+u, demoArea, rawFields(t, map[string]any{"officer": u, "household_id": demoHousehold, "active": true})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := township.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	clients := make([]*client.Client, tablets)
	for i, u := range users {
		clients[i] = newTablet(t, dir, url, u)
	}

	var acked atomic.Int64
	saved := make([][]string, tablets)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				for k := 0; k < perRound; k++ {
					id := clients[i].NewID()
					if _, err := clients[i].Save(ctx, "visits", id, demoArea, visitFields(t, demoHousehold, users[i], r*perRound+k)); err != nil {
						t.Errorf("save: %v", err)
						return
					}
					saved[i] = append(saved[i], id)
				}
				rep, _ := clients[i].Sync(ctx, nil) // fails while the server is down; the outbox keeps the ops
				acked.Add(int64(rep.Pushed))
			}
		}(i)
	}
	// Kill the server twice while pushes are in flight.
	for kill := 0; kill < 2; kill++ {
		target := int64((kill + 1) * tablets * rounds * perRound / 4)
		for acked.Load() < target {
			time.Sleep(5 * time.Millisecond)
		}
		p.kill()
		t.Logf("SIGKILL after %d acknowledged ops", acked.Load())
		time.Sleep(100 * time.Millisecond)
		p.start()
	}
	wg.Wait()
	// Everyone syncs until nothing is pending.
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
	p.stop()

	store, err := boltstore.Open(filepath.Join(p.data, "ruhu.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	total := 0
	err = store.View(func(tx *boltstore.Tx) error {
		for i, ids := range saved {
			for _, id := range ids {
				total++
				h, err := tx.History("visits", id)
				if err != nil {
					return err
				}
				switch {
				case len(h) == 0:
					t.Errorf("tablet %d: visit %s lost", i, id)
				case len(h) > 1:
					t.Errorf("tablet %d: visit %s doubled (%d ops)", i, id, len(h))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != tablets*rounds*perRound {
		t.Fatalf("tablets saved %d visits, want %d", total, tablets*rounds*perRound)
	}
}

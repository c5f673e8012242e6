package syncbench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// heldStore holds every write transaction, once armed, until release is
// closed, and says on entered when one arrives: a write path that is busy.
type heldStore struct {
	server.Store
	armed   *atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (h heldStore) Update(fn func(core.Tx) error) error {
	if h.armed.Load() {
		h.entered <- struct{}{}
		<-h.release
	}
	return h.Store.Update(fn)
}

// TestPushAnswers503WhenWriteQueueFull fills the server's write queue with
// pushes held before their write transaction, then pushes once more over
// HTTP: the answer is 503 with code ETRANSIENT, Retry-After in whole
// seconds and the wait in milliseconds. Once the queue drains the same
// body is taken, and every visit is stored exactly once.
func TestPushAnswers503WhenWriteQueueFull(t *testing.T) {
	held := heldStore{armed: &atomic.Bool{}, entered: make(chan struct{}, 16), release: make(chan struct{})}
	e, err := startWith(filepath.Join(t.TempDir(), "busy.db"), []string{"t1", "t2"}, func(s server.Store) server.Store {
		held.Store = s
		return held
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	var seq atomic.Int64
	batches := core.DefaultMaxQueuedOps / syncengine.MaxPushOps // pushes that fill the queue
	bodies, err := encodeBatches(visitOps("t1", e.device["t1"], batches*syncengine.MaxPushOps, &seq), syncengine.MaxPushOps)
	if err != nil {
		t.Fatal(err)
	}
	held.armed.Store(true)
	var wg sync.WaitGroup
	errs := make(chan error, len(bodies))
	for _, body := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if wait, err := e.pushOnce("t1", body, syncengine.MaxPushOps); err != nil || wait > 0 {
				errs <- fmt.Errorf("a push that fits the queue: busy %v, %v", wait, err)
			}
		}()
	}
	for range bodies {
		select {
		case <-held.entered:
		case <-time.After(time.Minute):
			t.Fatal("the pushes never reached the write transaction")
		}
	}

	late, err := encodeBatches(visitOps("t2", e.device["t2"], 10, &seq), 10)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", e.url+"/v1/sync/push", bytes.NewReader(late[0]))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer "+e.tokens["t2"])
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var body struct{ Code, Message string }
	_ = json.Unmarshal(raw, &body)
	secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	ms, _ := strconv.Atoi(resp.Header.Get(syncengine.RetryAfterHeader))
	if resp.StatusCode != http.StatusServiceUnavailable || body.Code != syncengine.ETRANSIENT {
		t.Fatalf("push into a full queue: %s %s, want 503 ETRANSIENT", resp.Status, raw)
	}
	if ms < 50 || ms > 10000 || secs < 1 || time.Duration(secs)*time.Second < time.Duration(ms)*time.Millisecond {
		t.Fatalf("Retry-After %q and %s %q: want 50 to 10,000 ms, and the seconds rounded up",
			resp.Header.Get("Retry-After"), syncengine.RetryAfterHeader, resp.Header.Get(syncengine.RetryAfterHeader))
	}

	held.armed.Store(false)
	close(held.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := e.push("t2", late[0], 10, nil); err != nil {
		t.Fatalf("the refused push, sent again: %v", err)
	}
	want := batches*syncengine.MaxPushOps + 10
	if lost, doubled, err := countVisits(e.store, want); err != nil || lost != 0 || doubled != 0 {
		t.Fatalf("%d visits pushed: lost %d, doubled %d, %v", want, lost, doubled, err)
	}
}

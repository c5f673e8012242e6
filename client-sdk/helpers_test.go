package client_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/syncengine"
)

const testArea = "340199001001"

// deviceClock is a tablet clock under the test's control. Advance moves
// wall time and uptime together, as real time passing does; Set changes
// the wall clock only, as a user changing the clock does.
type deviceClock struct {
	mu     sync.Mutex
	now    time.Time
	boot   string
	uptime time.Duration
}

func newDeviceClock(now time.Time) *deviceClock {
	return &deviceClock{now: now, boot: "boot-1", uptime: time.Hour}
}

func (d *deviceClock) Now() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.now
}

func (d *deviceClock) BootID() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.boot
}

func (d *deviceClock) Uptime() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.uptime
}

func (d *deviceClock) Advance(dt time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.now = d.now.Add(dt)
	d.uptime += dt
}

func (d *deviceClock) Set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.now = t
}

func (d *deviceClock) Reboot(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.boot, d.uptime = id, time.Minute
}

// sleeps records the backoff waits instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

type tablet struct {
	*client.Client
	path  string
	opts  client.Options
	clock *deviceClock
	sleep *sleeps
}

// newTablet opens a tablet file in a temp dir, logs in and enrolls it with
// the fake server. Its clock starts in step with the server's.
func newTablet(t testing.TB, f *fakeServer, mod func(*client.Options)) *tablet {
	t.Helper()
	tb := &tablet{path: filepath.Join(t.TempDir(), "tablet.db"), clock: newDeviceClock(f.now), sleep: &sleeps{}}
	tb.opts = client.Options{DeviceClock: tb.clock, Sleep: tb.sleep.Sleep}
	if mod != nil {
		mod(&tb.opts)
	}
	tb.open(t)
	ctx := context.Background()
	if err := tb.Login(ctx, f.URL(), fakeUser, fakePassword); err != nil {
		t.Fatalf("login: %v", err)
	}
	if err := tb.Enroll(ctx, "平板A"); err != nil {
		t.Fatalf("enroll: %v", err)
	}
	return tb
}

func (tb *tablet) open(t testing.TB) {
	t.Helper()
	c, err := client.Open(tb.path, tb.opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	tb.Client = c
	t.Cleanup(func() { c.Close() })
}

// reopen closes and opens the file again, proving what was committed.
func (tb *tablet) reopen(t testing.TB) {
	t.Helper()
	if err := tb.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	tb.open(t)
}

func (tb *tablet) save(t testing.TB, collection, id string, fields map[string]any) *syncengine.Op {
	t.Helper()
	op, err := tb.Save(context.Background(), collection, id, testArea, raw(t, fields))
	if err != nil {
		t.Fatalf("save %s/%s: %v", collection, id, err)
	}
	return op
}

func (tb *tablet) sync(t testing.TB) client.SyncReport {
	t.Helper()
	rep, err := tb.Sync(context.Background(), nil)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return rep
}

func (tb *tablet) status(t testing.TB) client.Status {
	t.Helper()
	st, err := tb.Status()
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	return st
}

func raw(t testing.TB, fields map[string]any) map[string]json.RawMessage {
	t.Helper()
	out := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = b
	}
	return out
}

// bucketKeys lists the keys of a bucket straight from the file (the tablet
// must be closed).
func bucketKeys(t testing.TB, path, bucket string) []string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("open raw: %v", err)
	}
	defer db.Close()
	var keys []string
	db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error { keys = append(keys, string(k)); return nil })
	})
	return keys
}

func bucketNames(t testing.TB, path string) []string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("open raw: %v", err)
	}
	defer db.Close()
	var names []string
	db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error { names = append(names, string(name)); return nil })
	})
	return names
}

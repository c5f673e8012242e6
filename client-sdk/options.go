package client

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// DeviceClock is the tablet's own sense of time. It is an interface so tests
// can play a tablet set to 1970, a reboot, or a clock changed by hand.
type DeviceClock interface {
	// Now is the device's wall clock, which may be wildly wrong.
	Now() time.Time
	// BootID changes on every boot; "" when unknown.
	BootID() string
	// Uptime is the time since boot, unaffected by clock changes; 0 when
	// unknown. Now()−Uptime() only moves when someone changes the clock.
	Uptime() time.Duration
}

// Validator checks the fields of a write against the collection's schema
// before the write is stored. *schemas.Registry satisfies it.
type Validator interface {
	ValidatePatch(collection string, fields map[string]json.RawMessage) error
}

// Options configure a Client. Every zero value has a useful meaning.
type Options struct {
	// Logger receives debug and warning logs. Nil: logs are discarded.
	Logger *slog.Logger
	// DeviceClock is the device's clock. Nil: the real clock, with the boot
	// id and uptime read from /proc (Linux, Android).
	DeviceClock DeviceClock
	// Validator checks writes before they are stored. Nil: only the shape of
	// the op is checked (syncengine.Op.Validate); the server still validates.
	Validator Validator
	// Policy gives the merge policy of a collection (append-only evidence).
	// Nil: every collection merges as mutable; the server enforces the real
	// policy and its state replaces the local one on the next pull.
	Policy func(collection string) syncengine.MergePolicy
	// PIIFields names the fields of a collection whose values are sealed
	// at rest (see pii.go; schemas.CollectionPolicy.PII). Nil: members.id_number.
	PIIFields func(collection string) []string
	// Sleep waits between retries; it must return early with ctx's error
	// when ctx ends. Nil: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// BatchSize is the number of ops per push. Zero: 500. Capped at
	// syncengine.MaxPushOps.
	BatchSize int
	// PageSize is the number of records asked per pull. Zero:
	// syncengine.DefaultPullLimit. Capped at syncengine.MaxPullLimit.
	PageSize int
	// MaxAttempts bounds the tries of one request on ETRANSIENT errors. Zero: 8.
	MaxAttempts int
	// RetryBase is the first backoff delay, doubled on every retry up to
	// RetryMax. Zero: 500 ms and 30 s.
	RetryBase, RetryMax time.Duration
	// HTTPClient sends the requests. Nil: a client with a 2-minute timeout
	// (pages over 2G are slow, but a dead connection must not hang forever).
	HTTPClient *http.Client
	// Metered reports whether the network in use is paid by the byte
	// (mobile data). Photo originals are uploaded only when it returns
	// false, or by UploadAll. Nil: always metered, so originals wait.
	Metered func() bool
	// FastChunk is how quickly a chunk must be acknowledged for the next
	// one to double in size (up to MaxChunkSize). Zero: 2 s, which on 2G
	// (≈ 30 KB/s) keeps chunks at 64 KiB and on Wi-Fi grows them to 1 MiB.
	FastChunk time.Duration
	// ChunkTimeout bounds one chunk's round trip; a chunk that takes longer
	// counts as a failure (the server keeps what arrived of it; when that
	// is nothing the chunk size halves). Zero: 60 s.
	ChunkTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.DeviceClock == nil {
		o.DeviceClock = systemClock{}
	}
	if o.Policy == nil {
		o.Policy = func(string) syncengine.MergePolicy { return syncengine.MergePolicy{} }
	}
	if o.PIIFields == nil {
		o.PIIFields = defaultPIIFields
	}
	if o.Sleep == nil {
		o.Sleep = sleepTimer
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.BatchSize > syncengine.MaxPushOps {
		o.BatchSize = syncengine.MaxPushOps
	}
	if o.PageSize <= 0 {
		o.PageSize = syncengine.DefaultPullLimit
	}
	if o.PageSize > syncengine.MaxPullLimit {
		o.PageSize = syncengine.MaxPullLimit
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 500 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 30 * time.Second
	}
	if o.FastChunk <= 0 {
		o.FastChunk = 2 * time.Second
	}
	if o.ChunkTimeout <= 0 {
		o.ChunkTimeout = 60 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 2 * time.Minute}
	}
	return o
}

func sleepTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// systemClock reads the real clock and the Linux boot id and uptime.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) BootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (systemClock) Uptime() time.Duration {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	secs, err := strconv.ParseFloat(first, 64)
	if err != nil || secs <= 0 {
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}

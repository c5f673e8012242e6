package client_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestSyncHonoursRetryAfter: a busy server answers 503 ETRANSIENT with the
// wait it needs (milliseconds in X-Ruhu-Retry-After-Ms, whole seconds or a
// date in Retry-After); the tablet waits that long (plus at most a fifth,
// so a refused crowd does not return in step) instead of its own backoff,
// then delivers the push. An absurd wait is capped at five minutes.
func TestSyncHonoursRetryAfter(t *testing.T) {
	tests := []struct {
		name     string
		header   http.Header
		min, max time.Duration
	}{
		{"milliseconds", http.Header{syncengine.RetryAfterHeader: {"1500"}, "Retry-After": {"2"}}, 1500 * time.Millisecond, 1800 * time.Millisecond},
		{"seconds", http.Header{"Retry-After": {"3"}}, 3 * time.Second, 3600 * time.Millisecond},
		{"date", http.Header{"Retry-After": {time.Now().Add(20 * time.Second).UTC().Format(http.TimeFormat)}}, 15 * time.Second, 24 * time.Second},
		{"a day", http.Header{"Retry-After": {"86400"}}, 5 * time.Minute, 6 * time.Minute},
		{"garbage is ordinary backoff", http.Header{"Retry-After": {"soon"}}, 250 * time.Millisecond, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			tb := newTablet(t, f, nil)
			tb.save(t, "households", "h1", household("甲"))
			f.set(func(f *fakeServer) { f.fail503, f.busyHeader = 1, tt.header })
			rep := tb.sync(t)
			if rep.Retries != 1 || rep.Pushed != 1 {
				t.Fatalf("retries %d pushed %d, want 1 and 1", rep.Retries, rep.Pushed)
			}
			waits := tb.sleep.all()
			if len(waits) != 1 || waits[0] < tt.min || waits[0] > tt.max {
				t.Fatalf("waited %v, want one wait within [%v, %v]", waits, tt.min, tt.max)
			}
			if f.opCount() != 1 {
				t.Fatalf("server holds %d ops, want 1", f.opCount())
			}
		})
	}
}

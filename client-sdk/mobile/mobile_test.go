package mobile

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

func TestFailShowsCodeAndMessage(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil stays nil", nil, ""},
		{"a coded error", syncengine.Errorf(syncengine.EUNAUTHORIZED, "请先登录并登记此设备"), "EUNAUTHORIZED: 请先登录并登记此设备"},
		{"a wrapped coded error", fmt.Errorf("save: %w", syncengine.Errorf(syncengine.EINVALID, "checklist.food")), "EINVALID: checklist.food"},
		{"a cancelled call", fmt.Errorf("push: %w", context.Canceled), "ETRANSIENT: 已取消"},
		{"an internal error keeps its detail", errors.New("open tablet.db: permission denied"), "EINTERNAL: open tablet.db: permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fail(tt.err)
			if tt.want == "" {
				if got != nil {
					t.Fatalf("fail(nil) = %v", got)
				}
				return
			}
			if got == nil || got.Error() != tt.want {
				t.Fatalf("fail = %v, want %q", got, tt.want)
			}
		})
	}
}

// A store that never logged in answers what it knows and refuses writes
// and syncs with EUNAUTHORIZED; malformed JSON of every kind is EINVALID
// naming what was wrong, before the SDK sees it.
func TestStoreBeforeLoginAndBadJSON(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "tablet.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Status()
	if err != nil || !strings.Contains(out, `"enrolled":false`) || !strings.Contains(out, `"pending_ops":0`) {
		t.Fatalf("status of a new store: %s, %v", out, err)
	}
	if out, err := s.Query("households", ""); err != nil || out != "[]" {
		t.Fatalf("households of a new store: %s, %v", out, err)
	}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"save before enrolment", func() error {
			_, err := s.Save("visits", "", "340199001001", `{"notes":"x"}`)
			return err
		}, "EUNAUTHORIZED: "},
		{"sync before login", func() error { _, err := s.Sync(false, nil); return err }, "EUNAUTHORIZED: "},
		{"save of a JSON array", func() error { _, err := s.Save("visits", "r1", "340199001001", `["notes"]`); return err }, "EINVALID: fields: "},
		{"save with trailing data", func() error { _, err := s.Save("visits", "r1", "340199001001", `{} {}`); return err }, "EINVALID: fields: "},
		{"query with a broken filter", func() error { _, err := s.Query("members", `{"household_id":`); return err }, "EINVALID: filter: "},
		{"photo request with an unknown field", func() error {
			_, err := s.AttachPhoto(`{"household_id":"h1","stage":"before","colour":"red"}`, []byte{0xff, 0xd8})
			return err
		}, "EINVALID: photo request: "},
		{"signature request that is not JSON", func() error { _, err := s.CaptureSignature(`signed`); return err }, "EINVALID: signature request: "},
		{"get of an absent record", func() error { _, err := s.Get("visits", "nope"); return err }, "ENOTFOUND: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q…", err, tt.want)
			}
		})
	}
}

// Java can construct a Store without Open (gobind makes the zero value
// public), and an app may call on after Close: both answer EINVALID,
// never a crash.
func TestZeroAndClosedStore(t *testing.T) {
	var zero Store
	if _, err := zero.Status(); err == nil || err.Error() != "EINVALID: store not opened: use Mobile.open" {
		t.Fatalf("zero store: %v", err)
	}
	zero.Cancel()
	if err := zero.Close(); err != nil {
		t.Fatalf("close of a zero store: %v", err)
	}
	s, err := Open(filepath.Join(t.TempDir(), "tablet.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Cancel() // nothing in flight: harmless, the store stays usable
	if _, err := s.Status(); err != nil {
		t.Fatalf("status after Cancel: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	s.Cancel()
	for name, call := range map[string]func() error{
		"login":  func() error { return s.Login("http://127.0.0.1:1", "wang", "x") },
		"enroll": func() error { return s.Enroll("平板") },
		"query":  func() error { _, err := s.Query("visits", ""); return err },
		"status": func() error { _, err := s.Status(); return err },
	} {
		if err := call(); err == nil || err.Error() != "EINVALID: store is closed" {
			t.Errorf("%s after close: %v", name, err)
		}
	}
}

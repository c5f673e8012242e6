package boltstore_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/boltstore"
)

// Web sessions survive a reopen, are deleted on demand, and expired ones
// are swept; a store made before the console (no bucket) reads as empty.
func TestWebSessions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ruhu.db")
	s := openStore(t, path)
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	err := s.View(func(tx *boltstore.Tx) error {
		got, err := tx.WebSession("k1")
		if err != nil || got != nil {
			t.Errorf("fresh store: %v %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	live := &boltstore.WebSession{Key: "k1", Username: "county", CSRF: "c1", CreatedAt: now, ExpiresAt: now.Add(8 * time.Hour)}
	dead := &boltstore.WebSession{Key: "k2", Username: "wang", CSRF: "c2", CreatedAt: now.Add(-9 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
	if err := s.UpdateSolo(func(tx *boltstore.Tx) error {
		if err := tx.PutWebSession(live); err != nil {
			return err
		}
		return tx.PutWebSession(dead)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	t.Cleanup(func() { s.Close() })
	var swept int
	if err := s.UpdateSolo(func(tx *boltstore.Tx) (err error) { swept, err = tx.DeleteExpiredWebSessions(now); return err }); err != nil {
		t.Fatal(err)
	}
	if swept != 1 {
		t.Errorf("swept %d sessions, want 1", swept)
	}
	_ = s.View(func(tx *boltstore.Tx) error {
		got, err := tx.WebSession("k1")
		if err != nil || got == nil || got.Username != "county" || got.CSRF != "c1" || !got.ExpiresAt.Equal(live.ExpiresAt) {
			t.Errorf("after reopen: %+v %v", got, err)
		}
		if got, _ := tx.WebSession("k2"); got != nil {
			t.Errorf("expired session kept: %+v", got)
		}
		return nil
	})
	if err := s.UpdateSolo(func(tx *boltstore.Tx) error { return tx.DeleteWebSession("k1") }); err != nil {
		t.Fatal(err)
	}
	_ = s.View(func(tx *boltstore.Tx) error {
		if got, _ := tx.WebSession("k1"); got != nil {
			t.Errorf("deleted session still there: %+v", got)
		}
		return nil
	})
}

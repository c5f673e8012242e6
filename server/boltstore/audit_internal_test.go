package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/server/audit"
)

// tamperAudit overwrites one stored entry's bytes; tests use it to play
// the insider who edits the file.
func (s *Store) tamperAudit(seq uint64, edit func([]byte) []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		if b == nil {
			return fmt.Errorf("no audit bucket")
		}
		raw := b.Get(u64(seq))
		if raw == nil {
			return fmt.Errorf("no audit entry %d", seq)
		}
		out := edit(bytes.Clone(raw))
		if out == nil {
			return b.Delete(u64(seq))
		}
		return b.Put(u64(seq), out)
	})
}

func auditStore(t *testing.T, n int) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "ruhu.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		err := s.UpdateSolo(func(tx *Tx) error {
			return tx.AppendAudit(&audit.Entry{Time: base.Add(time.Duration(i) * time.Hour), Kind: audit.KindLogin,
				Actor: fmt.Sprintf("user%d", i), Area: "3401", Detail: map[string]string{"i": fmt.Sprint(i)}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestAuditTamper edits the stored chain as an insider with the file
// would: VerifyAudit names the entry changed or deleted.
func TestAuditTamper(t *testing.T) {
	tests := []struct {
		name string
		seq  uint64
		edit func([]byte) []byte
	}{
		{"one byte of entry 3's actor changed", 3, func(b []byte) []byte {
			i := bytes.Index(b, []byte("user2"))
			b[i+4] = '9'
			return b
		}},
		{"entry 4 deleted", 4, func([]byte) []byte { return nil }},
		{"entry 2 cut short", 2, func(b []byte) []byte { return b[:len(b)-1] }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := auditStore(t, 6)
			if head, err := s.VerifyAudit(nil); err != nil || head.Seq != 6 {
				t.Fatalf("before tampering: head %d, %v", head.Seq, err)
			}
			if err := s.tamperAudit(tc.seq, tc.edit); err != nil {
				t.Fatal(err)
			}
			_, err := s.VerifyAudit(nil)
			var be *audit.BrokenError
			if !errors.As(err, &be) || be.Seq != tc.seq {
				t.Fatalf("want entry %d named, got %v", tc.seq, err)
			}
		})
	}
}

// TestAuditAnchor: a cut tail verifies as a chain, but not against the
// anchor printed before the cut; AuditHeadBefore picks a day's last entry.
func TestAuditAnchor(t *testing.T) {
	s := auditStore(t, 30) // 08:00 on 1 March, hourly, up to 13:00 on 2 March
	day2 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	h, err := s.AuditHeadBefore(day2)
	if err != nil || h.Seq != 16 {
		t.Fatalf("head before 2 March: %d, %v (want 16: 08:00..23:00)", h.Seq, err)
	}
	full, err := s.VerifyAudit(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyAudit(&full); err != nil {
		t.Fatalf("own head as anchor: %v", err)
	}
	if err := s.tamperAudit(30, func([]byte) []byte { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyAudit(nil); err != nil {
		t.Fatalf("a cut tail is still a chain: %v", err)
	}
	var be *audit.BrokenError
	if _, err := s.VerifyAudit(&full); !errors.As(err, &be) || be.Seq != 30 {
		t.Fatalf("anchor past the cut: %v", err)
	}
	// Appending goes on from the stored head.
	if err := s.UpdateSolo(func(tx *Tx) error {
		return tx.AppendAudit(&audit.Entry{Time: day2, Kind: audit.KindRevoke, Actor: "admin"})
	}); err != nil {
		t.Fatal(err)
	}
	var got []uint64
	_ = s.View(func(tx *Tx) error {
		return tx.AuditEntries(30, func(e *audit.Entry) bool { got = append(got, e.Seq); return len(got) < 3 })
	})
	if fmt.Sprint(got) != "[29 28 27]" {
		t.Fatalf("entries before 30, newest first: %v", got)
	}
	if _, err := s.VerifyAudit(nil); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkAppendAudit is the cost an audited write transaction pays: read
// the head, link, store (one entry per push batch, not per op).
func BenchmarkAppendAudit(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "ruhu.db"), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	detail := map[string]string{"digest": fmt.Sprintf("%064x", 1), "signature": fmt.Sprintf("%088x", 2), "ops": "500", "applied": "500", "acked": "500", "rejected": "0"}
	// All appends in one transaction: the figure is the append's own work,
	// not a commit (which the audited transaction pays anyway).
	err = s.db.Update(func(btx *bolt.Tx) error {
		tx := &Tx{tx: btx}
		for b.Loop() {
			if err := tx.AppendAudit(&audit.Entry{Time: now, Kind: audit.KindPush, Actor: "wang", Device: "d0123456789abcdef", Area: "340199001001", Detail: detail}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestAuditVerifyAndAnchor: accounts added on a stopped server's data
// folder leave audit entries; `ruhu audit verify` passes, `ruhu audit
// anchor` prints the head; after one byte of a stored entry changes, or an
// entry is deleted, verify fails naming it; a cut tail fails against the
// anchor printed before.
func TestAuditVerifyAndAnchor(t *testing.T) {
	ctx := context.Background()
	noenv := func(string) string { return "" }
	cmd := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, args, noenv, &out, &out)
		return out.String(), err
	}
	fresh := func(t *testing.T) string {
		dir := t.TempDir()
		for _, u := range []string{"qian", "zhou", "wu", "zheng"} {
			if out, err := cmd("user", "add", "--data", dir, "--username", u, "--password", "long-password-1", "--role", "officer", "--scope", "340199002"); err != nil {
				t.Fatalf("user add: %v\n%s", err, out)
			}
		}
		return dir
	}
	edit := func(t *testing.T, dir string, seq uint64, fn func(b *bolt.Bucket, key []byte) error) {
		db, err := bolt.Open(filepath.Join(dir, "ruhu.db"), 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		key := binary.BigEndian.AppendUint64(nil, seq)
		if err := db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket([]byte("audit")), key) }); err != nil {
			t.Fatal(err)
		}
	}

	dir := fresh(t)
	out, err := cmd("audit", "verify", "--data", dir)
	if err != nil || !strings.HasPrefix(out, "audit chain ok: 4 entries, head 4:") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	out, err = cmd("audit", "anchor", "--data", dir)
	fields := strings.Fields(out)
	if err != nil || len(fields) != 3 || !strings.HasPrefix(fields[1], "4:") {
		t.Fatalf("anchor: %v\n%s", err, out)
	}
	anchor := fields[1]
	if out, err := cmd("audit", "verify", "--data", dir, "--anchor", anchor); err != nil {
		t.Fatalf("verify against its own anchor: %v\n%s", err, out)
	}

	t.Run("one byte changed", func(t *testing.T) {
		dir := fresh(t)
		edit(t, dir, 2, func(b *bolt.Bucket, k []byte) error {
			v := bytes.Clone(b.Get(k))
			i := bytes.Index(v, []byte("zhou"))
			v[i] = 'Z'
			return b.Put(k, v)
		})
		if _, err := cmd("audit", "verify", "--data", dir); err == nil || !strings.Contains(err.Error(), "broken at entry 2:") {
			t.Fatalf("verify after a changed byte: %v", err)
		}
	})
	t.Run("entry deleted", func(t *testing.T) {
		dir := fresh(t)
		edit(t, dir, 3, func(b *bolt.Bucket, k []byte) error { return b.Delete(k) })
		if _, err := cmd("audit", "verify", "--data", dir); err == nil || !strings.Contains(err.Error(), "broken at entry 3: missing") {
			t.Fatalf("verify after a deletion: %v", err)
		}
	})
	t.Run("tail cut after the anchor", func(t *testing.T) {
		edit(t, dir, 4, func(b *bolt.Bucket, k []byte) error { return b.Delete(k) })
		if _, err := cmd("audit", "verify", "--data", dir); err != nil {
			t.Fatalf("a cut tail is still a chain: %v", err)
		}
		if _, err := cmd("audit", "verify", "--data", dir, "--anchor", anchor); err == nil || !strings.Contains(err.Error(), "broken at entry 4") {
			t.Fatalf("verify against the anchor after a cut: %v", err)
		}
	})
}

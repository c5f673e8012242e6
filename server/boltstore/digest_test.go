package boltstore_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// TestReusedOpIDIsRefused reproduces issue 10, bug 3 at the store: 1,000
// ops sharing one op id with different contents were taken as resends of
// the first (acknowledged, dropped). The store keeps each accepted op's
// digest, across a reopen, so Apply refuses every other content with
// ECONFLICT and an identical resend stays a no-op.
func TestReusedOpIDIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ruhu.db")
	s := openStore(t, path)
	var m opMaker
	first := m.op("households", "h1", "340199001001", map[string]any{"head": "张三"})
	apply(t, s, first)
	s.Close()
	s = openStore(t, path)
	defer s.Close()

	var refused, dup int
	err := s.UpdateSolo(func(tx *boltstore.Tx) error {
		for i := range 1000 {
			op := m.op("households", fmt.Sprintf("h%d", i%7+1), "340199001001", map[string]any{"head": fmt.Sprintf("户主%d", i)})
			op.ID = first.ID
			res, err := syncengine.Apply(tx, op, syncengine.MergePolicy{}, t0)
			switch {
			case syncengine.ErrorCode(err) == syncengine.ECONFLICT:
				refused++
			case err != nil:
				return err
			case res.Duplicate:
				dup++
			}
		}
		again := *first
		res, err := syncengine.Apply(tx, &again, syncengine.MergePolicy{}, t0)
		if err != nil || !res.Duplicate {
			return fmt.Errorf("identical resend: %+v, %v", res, err)
		}
		so, err := tx.StoredOp(first.ID)
		if err != nil {
			return err
		}
		if so.Digest != syncengine.OpDigest(first) || so.Op().Digest != so.Digest {
			return fmt.Errorf("stored digest %q, want %q", so.Digest, syncengine.OpDigest(first))
		}
		rec, err := tx.Record("households", "h1")
		if err != nil {
			return err
		}
		if got := string(rec.Fields["head"].Value); got != `"张三"` {
			return fmt.Errorf("h1 head = %s, want the first op's value", got)
		}
		if h, err := tx.History("households", "h2"); err != nil || len(h) != 0 {
			return fmt.Errorf("h2 history %d ops, %v: a reused id was applied", len(h), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if refused != 1000 || dup != 0 {
		t.Errorf("%d refused, %d taken as duplicates; want all 1000 refused", refused, dup)
	}
}

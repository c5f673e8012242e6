package boltstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	bolterrors "go.etcd.io/bbolt/errors"
)

// TestGroupCommit: concurrent writes share transactions, yet each gets
// its own answer: a write that fails or panics is rolled back alone (the
// writes grouped with it are kept) and the others commit; after Close a
// write answers ErrDatabaseNotOpen (which the core marks ETRANSIENT).
func TestGroupCommit(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "g.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = s.Update(func(tx *Tx) error {
				if err := tx.tx.Bucket(bucketMeta).Put([]byte(fmt.Sprintf("k%03d", i)), []byte("v")); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return fmt.Errorf("write %d refused", i)
				case 7:
					panic(fmt.Sprintf("write %d broke", i))
				}
				return nil
			})
		}(i)
	}
	wg.Wait()
	err = s.View(func(tx *Tx) error {
		for i := 0; i < n; i++ {
			stored := tx.tx.Bucket(bucketMeta).Get([]byte(fmt.Sprintf("k%03d", i))) != nil
			switch i % 10 {
			case 3:
				if stored || errs[i] == nil || errs[i].Error() != fmt.Sprintf("write %d refused", i) {
					return fmt.Errorf("write %d: stored %v, error %v; want its own error and nothing stored", i, stored, errs[i])
				}
			case 7:
				if stored || errs[i] == nil || !strings.Contains(errs[i].Error(), "panicked") {
					return fmt.Errorf("write %d: stored %v, error %v; want a panic error and nothing stored", i, stored, errs[i])
				}
			default:
				if !stored || errs[i] != nil {
					return fmt.Errorf("write %d: stored %v, error %v; want stored", i, stored, errs[i])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(*Tx) error { return nil }); !errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		t.Fatalf("write after Close: %v, want ErrDatabaseNotOpen", err)
	}
}

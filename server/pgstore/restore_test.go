package pgstore_test

import (
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/pgstore"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
)

// TestRestoreGetsNewEpoch: a database restored from pg_dump (pg_restore)
// opens with its data and a new epoch, the same for two servers opening
// it at once, kept on later opens; the original keeps its epoch.
func TestRestoreGetsNewEpoch(t *testing.T) {
	for _, bin := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("no %s: %v", bin, err)
		}
	}
	ctx := t.Context()
	src := pgtest.Database(t)
	s, err := pgstore.Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	epoch := s.Epoch()
	if err := s.Core().UpdateSolo(func(tx core.Tx) error { return tx.PutUser(&core.User{Username: "wang", Role: "officer"}) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if again := reopen(t, src); again != epoch {
		t.Fatalf("reopening changed the epoch: %s → %s", epoch, again)
	}
	dump := filepath.Join(t.TempDir(), "ruhu.dump")
	if out, err := exec.Command("pg_dump", "-Fc", "-f", dump, src).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	dst := pgtest.Database(t)
	if out, err := exec.Command("pg_restore", "--no-owner", "-d", dst, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	var epochs [2]string
	var wg sync.WaitGroup
	for i := range epochs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := pgstore.Open(ctx, dst)
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			epochs[i] = r.Epoch()
			if err := r.Core().View(func(tx core.Tx) error {
				u, err := tx.User("wang")
				if err == nil && u == nil {
					t.Error("the restored database lacks the user")
				}
				return err
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if epochs[0] == epoch || epochs[0] == "" || epochs[0] != epochs[1] {
		t.Fatalf("restored epochs %v, original %s: want one new epoch", epochs, epoch)
	}
	if again := reopen(t, dst); again != epochs[0] {
		t.Fatalf("the restored database's epoch changed on reopening: %s → %s", epochs[0], again)
	}
	if again := reopen(t, src); again != epoch {
		t.Fatalf("the original's epoch changed: %s → %s", epoch, again)
	}
}

func reopen(t *testing.T, url string) string {
	t.Helper()
	s, err := pgstore.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.Epoch()
}

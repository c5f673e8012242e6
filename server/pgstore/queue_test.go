package pgstore_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/core"
)

// TestBlobQueueClaims: servers claiming the photo queue at once take
// disjoint blobs, every blob once; a claim held by one is refused to the
// other until its lease runs out, then taken over (the first can no longer
// renew it); a processed blob is claimed by nobody.
func TestBlobQueueClaims(t *testing.T) {
	s := open(t).Core()
	t0 := time.Now().UTC()
	const n = 40
	err := s.UpdateSolo(func(tx core.Tx) error {
		for i := range n {
			b := &core.Blob{SHA256: fmt.Sprintf("%064x", i), Size: 1, Kind: "photo", Status: core.BlobProcessing,
				CreatedAt: t0.Add(time.Duration(i) * time.Millisecond), Refs: []core.BlobRef{}}
			if err := tx.(core.BlobTx).PutBlob(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const owners = 4
	got := make([][]string, owners)
	var wg sync.WaitGroup
	for o := range owners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				shas, err := s.ClaimBlobs(fmt.Sprintf("server-%d", o), 3, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if len(shas) == 0 {
					return
				}
				got[o] = append(got[o], shas...)
			}
		}()
	}
	wg.Wait()
	var all []string
	for o, shas := range got {
		t.Logf("server-%d claimed %d", o, len(shas))
		all = append(all, shas...)
	}
	slices.Sort(all)
	if len(all) != n || len(slices.Compact(slices.Clone(all))) != n {
		t.Fatalf("claimed %d blobs (%d distinct), want each of %d once", len(all), len(slices.Compact(all)), n)
	}

	sha := fmt.Sprintf("%064x", 0)
	holder := ""
	for o, shas := range got {
		if slices.Contains(shas, sha) {
			holder = fmt.Sprintf("server-%d", o)
		}
	}
	if ok, err := s.ClaimBlob("other", sha, time.Minute); ok || err != nil {
		t.Fatalf("a held claim was taken: %v %v", ok, err)
	}
	if ok, err := s.ClaimBlob(holder, sha, time.Second); !ok || err != nil {
		t.Fatalf("the holder could not renew by claiming again: %v %v", ok, err)
	}
	time.Sleep(1100 * time.Millisecond) // the holder died: its lease runs out
	if ok, err := s.ClaimBlob("other", sha, time.Minute); !ok || err != nil {
		t.Fatalf("an expired claim was not taken over: %v %v", ok, err)
	}
	if ok, err := s.RenewBlobClaim(holder, sha, time.Minute); ok || err != nil {
		t.Fatalf("the dead holder renewed a claim it lost: %v %v", ok, err)
	}
	if ok, err := s.RenewBlobClaim("other", sha, time.Minute); !ok || err != nil {
		t.Fatalf("the new holder could not renew: %v %v", ok, err)
	}

	err = s.UpdateSolo(func(tx core.Tx) error {
		b, err := tx.(core.BlobTx).Blob(sha)
		if err != nil {
			return err
		}
		b.Status = core.BlobReady
		return tx.(core.BlobTx).PutBlob(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.RenewBlobClaim("other", sha, time.Minute); ok || err != nil {
		t.Fatalf("a claim on a processed blob was renewed: %v %v", ok, err)
	}
	if ok, err := s.ClaimBlob("third", sha, time.Minute); ok || err != nil {
		t.Fatalf("a processed blob was claimed: %v %v", ok, err)
	}
}

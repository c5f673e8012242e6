package pgstore_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/server/core"
)

// TestUploadsDoNotWaitForTheSequencer: while a write of the core's tables
// holds the sequencer, a transaction that writes only upload state or
// blob facts commits at once, and another core write waits its turn.
func TestUploadsDoNotWaitForTheSequencer(t *testing.T) {
	s := open(t).Core()
	held, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := s.Update(func(tx core.Tx) error {
			if err := tx.PutUser(&core.User{Username: "wang", Role: "officer"}); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}()
	<-held
	done := make(chan error, 1)
	go func() {
		done <- s.Update(func(tx core.Tx) error {
			ut := tx.(core.UploadTx)
			if err := ut.PutUpload(&core.Upload{ID: "u1", Owner: "wang", Length: 10, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				return err
			}
			return tx.(core.BlobTx).PutBlob(&core.Blob{SHA256: "aa", Kind: "photo", Status: core.BlobProcessing, CreatedAt: time.Now(), Refs: []core.BlobRef{}})
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an upload-only transaction waited for the sequencer")
	}
	coreDone := make(chan error, 1)
	go func() {
		coreDone <- s.Update(func(tx core.Tx) error { return tx.PutUser(&core.User{Username: "li", Role: "officer"}) })
	}()
	select {
	case err := <-coreDone:
		t.Fatalf("a second core write did not wait for the sequencer (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	wg.Wait()
	if err := <-coreDone; err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentBlobRefsAreKept: writers adding refs to one blob at once
// (servers finishing uploads of the same photo for different records)
// lose none: a write transaction locks the blob it reads.
func TestConcurrentBlobRefsAreKept(t *testing.T) {
	s := open(t).Core()
	const writers, each = 4, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				err := s.Update(func(tx core.Tx) error {
					bt := tx.(core.BlobTx)
					b, err := bt.Blob("cc")
					if err != nil {
						return err
					}
					if b == nil {
						b = &core.Blob{SHA256: "cc", Kind: "photo", Status: core.BlobReady, CreatedAt: time.Now(), Refs: []core.BlobRef{}}
					}
					b.AddRef(core.BlobRef{Collection: "photos", RecordID: fmt.Sprintf("p%d-%d", w, i), Area: "340199001001"})
					return bt.PutBlob(b)
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	err := s.View(func(tx core.Tx) error {
		b, err := tx.(core.BlobTx).Blob("cc")
		if err != nil {
			return err
		}
		if len(b.Refs) != writers*each {
			t.Errorf("%d refs kept, want %d", len(b.Refs), writers*each)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

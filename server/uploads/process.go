package uploads

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ruhu-dev/ruhu/assets"
	"github.com/ruhu-dev/ruhu/assets/photo"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// jobQueue holds the sha256 of blobs waiting for processing, each once.
type jobQueue struct {
	mu      sync.Mutex
	pending []string
	queued  map[string]bool
	wake    chan struct{}
}

func newJobQueue() jobQueue {
	return jobQueue{queued: map[string]bool{}, wake: make(chan struct{}, 1)}
}

func (q *jobQueue) push(sha string) {
	q.mu.Lock()
	if !q.queued[sha] {
		q.queued[sha] = true
		q.pending = append(q.pending, sha)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// empty reports whether no job waits.
func (q *jobQueue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending) == 0
}

// pop waits for the next job; "" when ctx ends.
func (q *jobQueue) pop(ctx context.Context) string {
	for {
		q.mu.Lock()
		if len(q.pending) > 0 {
			sha := q.pending[0]
			q.pending = q.pending[1:]
			delete(q.queued, sha)
			more := len(q.pending) > 0
			q.mu.Unlock()
			if more {
				select { // pass the baton to another worker
				case q.wake <- struct{}{}:
				default:
				}
			}
			return sha
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return ""
		case <-q.wake:
		}
	}
}

func (s *Service) work(ctx context.Context) {
	for {
		sha := s.queue.pop(ctx)
		if sha == "" {
			return
		}
		if s.claims == nil {
			s.processSafely(ctx, sha)
			continue
		}
		s.processClaimed(ctx, sha)
	}
}

// processClaimed processes a blob of a shared queue if this server can
// claim it, renewing the claim while it works; losing the claim (the
// store judged this server dead) abandons the work to the new holder.
func (s *Service) processClaimed(ctx context.Context, sha string) {
	ok, err := s.claims.ClaimBlob(s.opts.Instance, sha, s.opts.Lease)
	if err != nil {
		s.log.Warn("claim photo", "sha256", sha, "err", err) // the poll finds it again
		return
	}
	if !ok {
		return // another server holds it, or it is processed
	}
	work, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(s.opts.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				held, err := s.claims.RenewBlobClaim(s.opts.Instance, sha, s.opts.Lease)
				if err != nil {
					s.log.Warn("renew photo claim", "sha256", sha, "err", err)
					continue
				}
				if !held {
					s.log.Warn("photo claim lost; leaving it to its new holder", "sha256", sha)
					cancel()
					return
				}
			}
		}
	}()
	s.processSafely(work, sha)
	close(done)
	cancel()
}

// pollClaims claims blobs of the shared queue that nobody holds (new ones,
// and those whose server died) whenever the local queue is empty: at
// start, then every ClaimEvery.
func (s *Service) pollClaims(ctx context.Context) {
	t := time.NewTicker(s.opts.ClaimEvery)
	defer t.Stop()
	for {
		if s.queue.empty() {
			shas, err := s.claims.ClaimBlobs(s.opts.Instance, s.opts.Workers, s.opts.Lease)
			if err != nil {
				s.log.Warn("poll the photo queue", "err", err)
			}
			for _, sha := range shas {
				s.queue.push(sha)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// requeueUnfinished queues every blob left in processing by an earlier
// run (a crash or a restart in the middle).
func (s *Service) requeueUnfinished() {
	var todo []string
	err := s.view(func(tx Tx) error {
		return tx.Blobs(func(b *core.Blob) bool {
			if b.Status == core.BlobProcessing {
				todo = append(todo, b.SHA256)
			}
			return true
		})
	})
	if err != nil {
		s.log.Error("scan blobs to process", "err", err)
	}
	for _, sha := range todo {
		s.queue.push(sha)
	}
}

// processSafely runs one blob through processing; a panic anywhere is
// that blob's failure, never the server's.
func (s *Service) processSafely(ctx context.Context, sha string) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("photo processing panicked", "sha256", sha, "panic", r)
			s.markFailed(sha, fmt.Sprintf("internal error while processing: %v", r))
		}
	}()
	err := s.process(ctx, sha)
	switch {
	case err == nil, ctx.Err() != nil:
	case assets.IsTransient(err):
		// The store is down: leave the blob in processing and try later.
		s.log.Warn("photo processing postponed", "sha256", sha, "err", err)
		s.bumpAttempts(sha)
		time.AfterFunc(s.opts.RetryEvery, func() {
			if ctx.Err() == nil {
				s.queue.push(sha)
			}
		})
	default:
		s.log.Info("photo refused", "sha256", sha, "err", err)
		s.markFailed(sha, failureReason(err))
	}
}

func failureReason(err error) string {
	switch {
	case errors.Is(err, photo.ErrUnsupportedType):
		return "not a JPEG or PNG image"
	case errors.Is(err, photo.ErrOverBudget):
		return "image needs more memory to decode than the server allows"
	case errors.Is(err, photo.ErrTooManyPixels):
		return "image declares too many pixels"
	case errors.Is(err, photo.ErrCorrupt):
		return "image is corrupt or truncated"
	case errors.Is(err, assets.ErrNotFound):
		return "original bytes are missing from the blob store"
	default:
		return "processing failed"
	}
}

func (s *Service) process(ctx context.Context, sha string) error {
	var b *core.Blob
	if err := s.view(func(tx Tx) (err error) { b, err = tx.Blob(sha); return err }); err != nil {
		return fmt.Errorf("load blob %s: %w", sha, err)
	}
	if b == nil || b.Status != core.BlobProcessing {
		return nil
	}
	rc, _, err := s.blobs.Get(ctx, assets.OriginalKey(sha))
	if err != nil {
		return fmt.Errorf("read original %s: %w", sha, err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, s.opts.MaxSize+1))
	rc.Close()
	if err != nil {
		return fmt.Errorf("read original %s: %w", sha, err)
	}
	res, err := s.proc.Process(ctx, sha, data)
	if err != nil {
		return err
	}
	if err := s.blobs.Put(ctx, assets.PreviewKey(sha), bytes.NewReader(res.Preview), int64(len(res.Preview))); err != nil {
		return fmt.Errorf("store preview of %s: %w", sha, err)
	}
	if err := s.blobs.Put(ctx, assets.ThumbKey(sha), bytes.NewReader(res.Thumb), int64(len(res.Thumb))); err != nil {
		return fmt.Errorf("store thumbnail of %s: %w", sha, err)
	}
	if err := ctx.Err(); err != nil {
		return err // shut down, or the claim was lost: the blob stays in processing
	}
	now := s.opts.Now().UTC()
	stored := false
	err = s.update(func(tx Tx) error {
		stored = false
		b, err := tx.Blob(sha)
		if err != nil || b == nil {
			return err
		}
		if b.Status != core.BlobProcessing {
			return nil // another server finished it first
		}
		stored = true
		b.Status, b.Reason = core.BlobReady, ""
		b.Type = res.Format.MIME()
		b.Width, b.Height = res.Width, res.Height
		b.TakenAt, b.GPS, b.GPSTime = nil, nil, nil
		if t := res.Meta.TakenAt; !t.IsZero() {
			b.TakenAt = &t
		}
		if res.Meta.HasGPS {
			b.GPS = &core.GPS{Lat: res.Meta.Lat, Lon: res.Meta.Lon}
		}
		if t := res.Meta.GPSTime; !t.IsZero() {
			b.GPSTime = &t
		}
		b.PHash, b.HasPHash = res.PHash, true
		b.HasPreview, b.HasThumb = true, true
		b.ProcessedAt = &now
		return tx.PutBlob(b)
	})
	if err == nil && stored {
		s.log.Info("photo processed", "sha256", sha, "instance", s.opts.Instance)
	}
	return err
}

func (s *Service) markFailed(sha, reason string) {
	now := s.opts.Now().UTC()
	err := s.update(func(tx Tx) error {
		b, err := tx.Blob(sha)
		if err != nil || b == nil {
			return err
		}
		b.Status, b.Reason, b.ProcessedAt = core.BlobFailed, reason, &now
		return tx.PutBlob(b)
	})
	if err != nil {
		s.log.Error("record failed blob", "sha256", sha, "err", err)
	}
}

func (s *Service) bumpAttempts(sha string) {
	err := s.update(func(tx Tx) error {
		b, err := tx.Blob(sha)
		if err != nil || b == nil {
			return err
		}
		b.Attempts++
		return tx.PutBlob(b)
	})
	if err != nil {
		s.log.Error("record processing attempt", "sha256", sha, "err", err)
	}
}

// Facts answers the evidence checks' question about one blob: was it
// verified, is it present in the blob store, and what are its facts
// (status, perceptual hash, EXIF time and GPS, record refs)? It returns
// ENOTFOUND when no verified blob has that sha256 or the store lost its
// bytes, and ETRANSIENT while the store is unreachable. Within a store
// transaction, core.BlobTx.Blob gives the same facts without the
// presence check.
func (s *Service) Facts(ctx context.Context, sha string) (*core.Blob, error) {
	var b *core.Blob
	if err := s.view(func(tx Tx) (err error) { b, err = tx.Blob(sha); return err }); err != nil {
		return nil, fmt.Errorf("load blob %s: %w", sha, err)
	}
	if b == nil {
		return nil, syncengine.Errorf(syncengine.ENOTFOUND, "no verified blob %s", sha)
	}
	if _, err := s.blobs.Stat(ctx, assets.OriginalKey(sha)); err != nil {
		switch {
		case errors.Is(err, assets.ErrNotFound):
			return nil, syncengine.Errorf(syncengine.ENOTFOUND, "blob %s is recorded but its bytes are missing", sha)
		case assets.IsTransient(err):
			return nil, syncengine.Errorf(syncengine.ETRANSIENT, "blob store unavailable")
		default:
			return nil, fmt.Errorf("stat blob %s: %w", sha, err)
		}
	}
	return b, nil
}

package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// Chunk sizes of the adaptive upload: a run starts at StartChunkSize,
// doubles after each chunk acknowledged within Options.FastChunk up to
// MaxChunkSize, and halves after a failed chunk of which the server kept
// nothing, down to MinChunkSize; below StartChunkSize each chunk that
// arrives doubles it again, however slow. Chunks carry no checksum
// (tus.go), so the server keeps what arrived of a chunk cut in flight and
// a cut costs the requests' headers, not the chunk; what a chunk's size
// still trades is round trips and headers (small chunks) against a chunk
// that outlasts Options.ChunkTimeout on a bad line (big chunks).
const (
	MinChunkSize   = 16 << 10
	StartChunkSize = 64 << 10
	MaxChunkSize   = 1 << 20
)

// maxChunkFailures is how many chunks of one item may fail in a row before
// the run moves on to the next item and comes back after a backoff.
const maxChunkFailures = 3

// UploadProgress is reported whenever the server confirms bytes, and when
// an item starts or ends.
type UploadProgress struct {
	// Item is the item being sent; Item.Sent is the bytes confirmed.
	Item UploadItem
	// Done and Total are the bytes confirmed and the bytes to send over
	// every item of this run.
	Done, Total int64
	// ItemsDone and Items count the items of this run.
	ItemsDone, Items int
	// ChunkSize is the adaptive chunk size now.
	ChunkSize int
}

// UploadReport sums up one Upload.
type UploadReport struct {
	Uploaded     int // items completed
	Deduplicated int // of which the server already had the bytes
	Failed       int // items left failed; the next Upload tries them again
	Deferred     int // originals left for an unmetered network
	Resumed      int // items continued from bytes an earlier run sent
	Retries      int // transient failures retried in this run
	// ChunkFailures counts chunks that failed or timed out; those of which
	// the server kept nothing halve the chunk size.
	ChunkFailures int
	// BytesSent counts file bytes the HTTP client put on the wire (chunk
	// bodies and creation-with-upload bodies), resends included.
	BytesSent int64
	// ChunkSize is the adaptive chunk size at the end of the run;
	// MinChunk and MaxChunk the smallest and largest used.
	ChunkSize, MinChunk, MaxChunk int
}

// Upload sends the queued evidence files to the server over tus, in the
// queue's order: signature images, then evidence copies, then originals —
// originals only when Options.Metered says the network is unmetered.
// Records never wait for their files (they go with Sync), and Sync never
// runs Upload: call both, records first.
//
// Each file goes in chunks of adaptive size; after a cut connection or a
// restart the upload resumes from the offset the server reports (HEAD),
// which counts the bytes of a cut chunk that arrived, so those are never
// sent twice. The server checks the complete file against its sha256. A file
// that fails is left for later in the run, after the others, with
// exponential backoff on transient errors (up to Options.MaxAttempts
// passes); one failing file never blocks the rest. An expired access
// token is refreshed once, as in Sync.
//
// Files that still fail are marked failed with the reason (UploadQueue)
// and counted in UploadReport.Failed; that is not an error of Upload.
//
// Codes: EUNAUTHORIZED (not enrolled, or the refresh token was refused),
// EREVOKED (the device was revoked: local data and files wiped), and the
// context's error when ctx ends (what was confirmed is kept).
func (c *Client) Upload(ctx context.Context, progress func(UploadProgress)) (UploadReport, error) {
	metered := c.opts.Metered == nil || c.opts.Metered()
	return c.upload(ctx, progress, !metered)
}

// UploadAll is Upload with the originals too, whatever the network: for
// an officer who chose to spend mobile data, or a tablet on Wi-Fi that
// cannot tell. Codes as Upload.
func (c *Client) UploadAll(ctx context.Context, progress func(UploadProgress)) (UploadReport, error) {
	return c.upload(ctx, progress, true)
}

// uploadRun is the state of one Upload.
type uploadRun struct {
	c        *Client
	tus      *tusClient
	tr       *HTTPTransport // for token refresh
	progress func(UploadProgress)
	rep      UploadReport
	chunk    int
	// total and done are bytes over the run; items and itemsDone items.
	total, done      int64
	items, itemsDone int
	// resumed marks items counted in UploadReport.Resumed.
	resumed map[uint64]bool
}

func (c *Client) upload(ctx context.Context, progress func(UploadProgress), withOriginals bool) (UploadReport, error) {
	c.uploadMu.Lock()
	defer c.uploadMu.Unlock()
	server, err := c.enrolledServer()
	if err != nil {
		return UploadReport{}, err
	}
	all, err := c.allUploads()
	if err != nil {
		return UploadReport{}, err
	}
	run, deferred := uploadOrder(all, withOriginals)
	r := &uploadRun{
		c:        c,
		tus:      &tusClient{base: server, hc: c.opts.HTTPClient, token: c.accessToken},
		tr:       c.transport(server, nil),
		progress: progress,
		chunk:    StartChunkSize,
		items:    len(run),
		resumed:  map[uint64]bool{},
	}
	r.rep.Deferred = deferred
	r.rep.ChunkSize, r.rep.MinChunk, r.rep.MaxChunk = r.chunk, r.chunk, r.chunk
	for _, u := range run {
		r.total += u.Size
		r.done += u.Offset
	}
	err = r.run(ctx, run)
	r.rep.ChunkSize = r.chunk
	if err != nil {
		err = c.afterAuthError(err)
		c.log.Warn("upload stopped", "err", err, "uploaded", r.rep.Uploaded)
	}
	return r.rep, err
}

// run sends the items in passes: each pass tries every item still to do;
// items that failed transiently go to the next pass after a backoff.
func (r *uploadRun) run(ctx context.Context, pending []*storedUpload) error {
	for pass := 1; len(pending) > 0; pass++ {
		var again []*storedUpload
		for _, u := range pending {
			err := r.send(ctx, u)
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if isCode(err, syncengine.EREVOKED) || isCode(err, syncengine.EUNAUTHORIZED) {
				return err // every other item would fail the same way
			}
			if ferr := r.fail(u, err); ferr != nil {
				return ferr
			}
			if retryable(err) && pass < r.c.opts.MaxAttempts {
				again = append(again, u)
				r.rep.Retries++
			} else {
				r.rep.Failed++
			}
		}
		if len(again) > 0 {
			if err := r.c.opts.Sleep(ctx, r.c.backoff(pass)); err != nil {
				return err
			}
		}
		pending = again
	}
	return nil
}

// retryable reports whether an item's failure may pass on a later try in
// the same run: a network or server trouble, or a chunk damaged on the way
// (460).
func retryable(err error) bool {
	return isCode(err, syncengine.ETRANSIENT) || tusStatus(err) == statusChecksumMismatch
}

// call runs one request, refreshing the access token once when the server
// says it expired (unless another refresh already replaced it).
func (r *uploadRun) call(ctx context.Context, fn func() error) error {
	used := r.c.accessToken()
	err := fn()
	if !isCode(err, syncengine.EUNAUTHORIZED) {
		return err
	}
	if r.c.accessToken() == used {
		if err := r.c.refresh(ctx, r.tr); err != nil {
			return err
		}
	}
	return fn()
}

func (r *uploadRun) report(u *storedUpload) {
	if r.progress == nil {
		return
	}
	r.progress(UploadProgress{
		Item: u.item(r.c.activeUpload.Load()), Done: r.done, Total: r.total,
		ItemsDone: r.itemsDone, Items: r.items, ChunkSize: r.chunk,
	})
}

// persist stores the run's copy of an item.
func (r *uploadRun) persist(u *storedUpload) error {
	_, err := r.c.saveUpload(u.Seq, func(s *storedUpload) { *s = *u })
	return err
}

// setOffset records bytes the server confirmed.
func (r *uploadRun) setOffset(u *storedUpload, off int64) error {
	if off == u.Offset {
		return nil
	}
	r.done += off - u.Offset
	u.Offset = off
	if err := r.persist(u); err != nil {
		return err
	}
	r.report(u)
	return nil
}

func (r *uploadRun) grow() {
	r.chunk = min(r.chunk*2, MaxChunkSize)
	r.rep.MaxChunk = max(r.rep.MaxChunk, r.chunk)
}

func (r *uploadRun) shrink() {
	r.chunk = max(r.chunk/2, MinChunkSize)
	r.rep.MinChunk = min(r.rep.MinChunk, r.chunk)
}

// fail records a failed attempt on the item.
func (r *uploadRun) fail(u *storedUpload, err error) error {
	u.Failed, u.Attempts = true, u.Attempts+1
	u.Code, u.Reason = syncengine.ErrorCode(err), err.Error()
	if u.Code == "" {
		u.Code = syncengine.EINTERNAL
	}
	r.c.log.Warn("upload failed", "sha256", u.SHA256, "record", u.Collection+"/"+u.RecordID, "err", err)
	return r.persist(u)
}

// send uploads one item to the end, or returns why it could not.
func (r *uploadRun) send(ctx context.Context, u *storedUpload) error {
	r.c.activeUpload.Store(u.Seq)
	defer r.c.activeUpload.Store(0)
	f, err := r.c.blobs.open(u.SHA256)
	if err != nil {
		return syncengine.Errorf(syncengine.ENOTFOUND, "本机文件丢失（%s）：%v", u.SHA256, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Size() != u.Size {
		return syncengine.Errorf(syncengine.EINTERNAL, "本机文件 %s 大小不符", u.SHA256)
	}
	r.report(u)
	if err := r.locate(ctx, u, f); err != nil {
		return err
	}
	recreated, failures := false, 0
	for u.Offset < u.Size {
		n := min(int64(r.chunk), u.Size-u.Offset)
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, u.Offset); err != nil && err != io.EOF {
			return fmt.Errorf("read evidence file %s: %w", u.SHA256, err)
		}
		var off int64
		before := u.Offset
		start := time.Now()
		err := r.call(ctx, func() error {
			cctx, cancel := context.WithTimeout(ctx, r.c.opts.ChunkTimeout)
			defer cancel()
			var err error
			off, err = r.tus.patch(cctx, u.URL, u.Offset, u.Size, buf, &r.rep.BytesSent)
			return err
		})
		elapsed := time.Since(start)
		if err == nil && off > u.Offset {
			failures = 0
			if err := r.setOffset(u, off); err != nil {
				return err
			}
			// Only a full chunk measures the line: the short tail of a
			// file is quick on any line and must not grow the size. Below
			// StartChunkSize any full chunk that arrives grows it back:
			// the failure that shrank it is behind, and small chunks on a
			// slow line cost a request's headers each.
			if n == int64(r.chunk) && (elapsed <= r.c.opts.FastChunk || r.chunk < StartChunkSize) {
				r.grow()
			}
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch status := tusStatus(err); {
		case err == nil:
			err = syncengine.Errorf(syncengine.ETRANSIENT, "server accepted a chunk without moving the offset")
		case status == http.StatusNotFound || status == http.StatusGone:
			if recreated {
				return err
			}
			recreated = true
			u.URL = ""
			if err := r.locate(ctx, u, f); err != nil {
				return err
			}
			continue
		case status == http.StatusLengthRequired && !r.tus.fixedLength:
			// A proxy on the way refuses chunked bodies: send lengths
			// from now on. Nothing of the chunk was taken.
			r.tus.fixedLength = true
			continue
		case status == http.StatusConflict:
			// Our offset is wrong (a chunk landed though its answer was
			// lost): ask below.
		case status == statusChecksumMismatch:
			// The complete file did not hash to its sha256: the server
			// dropped the upload, and HEAD below finds it gone (or at 0),
			// so the file starts over.
		case isCode(err, syncengine.ETRANSIENT):
		default:
			return err
		}
		r.rep.ChunkFailures++
		if err := r.resume(ctx, u, f); err != nil {
			return err
		}
		if u.Offset > before {
			// The server kept what arrived of the failed chunk (a cut
			// connection, a timeout): that is progress, and the chunk
			// size is not to blame.
			failures = 0
			continue
		}
		r.shrink()
		if failures++; failures >= maxChunkFailures {
			return err
		}
	}
	return r.finish(u)
}

// resume asks the server how many bytes of the item it holds (HEAD) after
// a failed chunk and continues from there; an upload the server no longer
// knows (expired, or dropped because the file did not hash right) starts
// again.
func (r *uploadRun) resume(ctx context.Context, u *storedUpload, f io.ReaderAt) error {
	var off int64
	err := r.call(ctx, func() (err error) { off, err = r.tus.head(ctx, u.URL, u.Size); return err })
	switch status := tusStatus(err); {
	case err == nil:
		return r.setOffset(u, off)
	case status == http.StatusNotFound || status == http.StatusGone:
		u.URL = ""
		return r.locate(ctx, u, f)
	default:
		return err
	}
}

// locate finds where the item's upload stands on the server: HEAD on its
// upload URL, or a new upload when it has none (or the server forgot it).
// A file of at most MinChunkSize (a signature image) goes in the creating
// request, saving a round trip; bigger ones are created empty, so a file
// the server already holds costs no bytes and is known as deduplicated.
func (r *uploadRun) locate(ctx context.Context, u *storedUpload, f io.ReaderAt) error {
	if u.URL != "" {
		var off int64
		err := r.call(ctx, func() (err error) { off, err = r.tus.head(ctx, u.URL, u.Size); return err })
		switch status := tusStatus(err); {
		case err == nil:
			if off > 0 && !r.resumed[u.Seq] {
				r.resumed[u.Seq] = true
				r.rep.Resumed++
			}
			return r.setOffset(u, off)
		case status == http.StatusNotFound || status == http.StatusGone || isCode(err, syncengine.EFORBIDDEN):
			// Expired or swept: start again. (403: an upload of another
			// user, after a login change; ours cannot be resumed there.)
			u.URL = ""
		default:
			return err
		}
	}
	if u.Offset != 0 {
		r.done -= u.Offset
		u.Offset = 0
	}
	var first []byte
	if u.Size <= MinChunkSize {
		first = make([]byte, u.Size)
		if _, err := f.ReadAt(first, 0); err != nil && err != io.EOF {
			return fmt.Errorf("read evidence file %s: %w", u.SHA256, err)
		}
	}
	m := tusMeta{sha: u.SHA256, kind: u.Kind, collection: u.Collection, recordID: u.RecordID, area: u.Area}
	var (
		loc string
		off int64
	)
	err := r.call(ctx, func() (err error) { loc, off, err = r.tus.create(ctx, m, u.Size, first); return err })
	if err != nil {
		return err
	}
	r.rep.BytesSent += int64(len(first))
	u.URL = loc
	u.Dedup = first == nil && off == u.Size
	if err := r.persist(u); err != nil {
		return err
	}
	return r.setOffset(u, off)
}

// finish marks the item done and removes its file when no other unfinished
// item needs the same bytes.
func (r *uploadRun) finish(u *storedUpload) error {
	u.Done, u.Failed, u.Code, u.Reason = true, false, "", ""
	u.FinishedMs = r.c.opts.DeviceClock.Now().UnixMilli()
	stillNeeded := false
	err := r.c.update(func(tx *bolt.Tx, _ codec) error {
		b := tx.Bucket(bucketUploads)
		if b.Get(seqKey(u.Seq)) == nil {
			return syncengine.Errorf(syncengine.ENOTFOUND, "upload %d is no longer queued", u.Seq)
		}
		err := b.ForEach(func(k, v []byte) error {
			o, err := decodeUpload(k, v)
			if err != nil {
				return err
			}
			if o.Seq != u.Seq && o.SHA256 == u.SHA256 && !o.Done {
				stillNeeded = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		return putUpload(b, u)
	})
	if err != nil {
		return err
	}
	r.itemsDone++
	r.rep.Uploaded++
	if u.Dedup {
		r.rep.Deduplicated++
	}
	r.report(u)
	if !stillNeeded {
		if err := r.c.blobs.remove(u.SHA256); err != nil {
			r.c.log.Warn("remove uploaded evidence file", "err", err)
		}
	}
	return nil
}

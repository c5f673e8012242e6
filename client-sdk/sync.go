package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// Sync phases reported in Progress.
const (
	PhasePush = "push"
	PhasePull = "pull"
)

// Progress is reported after every pushed batch and pulled page.
type Progress struct {
	Phase string
	// Done and Total count ops answered and ops queued (push), or records
	// received so far (pull; Total is 0 there, the server does not say).
	Done, Total int
	// Pages counts push batches or pull pages so far.
	Pages int
	// WireBytes is the compressed bytes sent and received so far.
	WireBytes int64
}

// SyncReport sums up one Sync.
type SyncReport struct {
	Pushed    int // ops acknowledged
	Rejected  int // ops refused and parked
	Restamped int // acknowledged ops the server restamped (clock far ahead)
	Batches   int
	Pulled    int // records received
	Pages     int
	Retries   int // transient failures retried
	// Reset is true when the server did not know the cursor (restored from
	// a backup): sent ops were queued again and everything pulled afresh.
	Reset bool
	// WireOut and WireIn are gzip body bytes; RawOut and RawIn the JSON.
	WireOut, WireIn, RawOut, RawIn int64
	// ClockOffset is server time − device time after this sync.
	ClockOffset      time.Duration
	ClockOffsetKnown bool
}

// WireBytesPerOp is the compressed push bytes per acknowledged op.
func (r SyncReport) WireBytesPerOp() float64 {
	if r.Pushed == 0 {
		return 0
	}
	return float64(r.WireOut) / float64(r.Pushed)
}

// Sync renews the key share (RenewKeyShare), pushes the outbox in
// batches, then pulls the server's changes page by page until there are
// no more. Each acknowledged batch and each page is
// applied in one transaction with its effect on the cursor, so Sync can be
// cut at any point and simply run again. Transient failures are retried
// with exponential backoff; an expired access token is refreshed once.
//
// Codes: EUNAUTHORIZED (not enrolled, or the refresh token was refused:
// log in and enroll again), EREVOKED (the device was revoked: the local
// data has been wiped), ETRANSIENT (still failing after the retries),
// EINVALID (the server refused a whole request), ELOCKED and ELEASE (an
// op or record with personal fields while the key is locked).
func (c *Client) Sync(ctx context.Context, progress func(Progress)) (SyncReport, error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	s := &syncRun{c: c, progress: progress}
	err := s.run(ctx)
	if err != nil {
		err = c.afterAuthError(err)
		c.log.Warn("sync failed", "err", err, "pushed", s.rep.Pushed, "pulled", s.rep.Pulled)
	}
	s.rep.ClockOffset = time.Duration(c.offsetMs.Load()) * time.Millisecond
	s.rep.ClockOffsetKnown = c.offsetKnown.Load()
	return s.rep, err
}

type clockSample struct {
	offsetMs    int64
	rtt         time.Duration
	bootID      string
	bootEpochMs int64
	saved       bool
}

// syncRun is the state of one Sync.
type syncRun struct {
	c        *Client
	tr       *HTTPTransport
	progress func(Progress)
	rep      SyncReport
	// best is the clock sample with the shortest round trip so far: its
	// midpoint is the tightest estimate of when the server read its clock.
	best *clockSample
}

func (s *syncRun) run(ctx context.Context) error {
	server, err := s.c.enrolledServer()
	if err != nil {
		return err
	}
	s.tr = s.c.transport(server, s.onExchange)
	// The key share first: a key unlocked before its lease ran out is
	// usable again for the personal fields of the push (tabletkeys.go).
	if err := s.c.renewKeyShare(ctx, s.tr, func(ctx context.Context, fn func(context.Context) error) error {
		return s.retry(ctx, true, fn)
	}); err != nil {
		return err
	}
	// A reset re-queues sent ops: push them, then pull again. Two rounds
	// suffice; a third is a server that keeps forgetting.
	for round := 0; round < 3; round++ {
		if err := s.push(ctx); err != nil {
			return err
		}
		reset, err := s.pull(ctx)
		if err != nil {
			return err
		}
		if !reset {
			break
		}
	}
	dc := s.c.opts.DeviceClock
	return s.c.update(func(tx *bolt.Tx, _ codec) error {
		m := meta{tx.Bucket(bucketMeta)}
		s.saveClock(tx, m)
		return m.putInt(metaLastSync, dc.Now().UnixMilli())
	})
}

func (s *syncRun) onExchange(ex Exchange) {
	s.rep.WireOut += ex.WireOut
	s.rep.WireIn += ex.WireIn
	s.rep.RawOut += ex.RawOut
	s.rep.RawIn += ex.RawIn
	if ex.ServerTime.IsZero() {
		return
	}
	rtt := ex.Received.Sub(ex.Sent)
	if rtt < 0 {
		return // the device clock moved during the request
	}
	if s.best != nil && rtt >= s.best.rtt {
		return
	}
	mid := ex.Sent.Add(rtt / 2)
	dc := s.c.opts.DeviceClock
	sample := &clockSample{offsetMs: ex.ServerTime.Sub(mid).Milliseconds(), rtt: rtt, bootID: dc.BootID()}
	if up := dc.Uptime(); up > 0 {
		sample.bootEpochMs = dc.Now().Add(-up).UnixMilli()
	}
	s.best = sample
}

// saveClock stores a new clock sample with the transaction in progress and
// starts using it once that commits.
func (s *syncRun) saveClock(tx *bolt.Tx, m meta) {
	b := s.best
	if b == nil || b.saved {
		return
	}
	b.saved = true
	_ = m.putInt(metaOffsetMs, b.offsetMs)
	_ = m.putStr(metaBootID, b.bootID)
	if b.bootEpochMs != 0 {
		_ = m.putInt(metaBootEpochMs, b.bootEpochMs)
	} else {
		_ = m.del(metaBootEpochMs)
	}
	tx.OnCommit(func() {
		s.c.offsetMs.Store(b.offsetMs)
		s.c.offsetKnown.Store(true)
	})
}

func (s *syncRun) report(p Progress) {
	if s.progress != nil {
		p.WireBytes = s.rep.WireOut + s.rep.WireIn
		s.progress(p)
	}
}

// retry calls fn until it succeeds, retrying ETRANSIENT with backoff up to
// MaxAttempts tries (waiting what the server asked for when it answered
// with a retry-after), and refreshing the access token once on
// EUNAUTHORIZED when refresh is set.
func (s *syncRun) retry(ctx context.Context, refresh bool, fn func(context.Context) error) error {
	refreshed := !refresh
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		switch {
		case err == nil:
			return nil
		case isCode(err, syncengine.EUNAUTHORIZED) && !refreshed:
			refreshed = true
			if err := s.retry(ctx, false, func(ctx context.Context) error { return s.c.refresh(ctx, s.tr) }); err != nil {
				return err
			}
			attempt--
		case isCode(err, syncengine.ETRANSIENT) && attempt < s.c.opts.MaxAttempts:
			s.rep.Retries++
			d := s.c.backoff(attempt)
			if wait, ok := syncengine.RetryAfter(err); ok {
				// A busy server said when its queue drains: come back
				// then, spread over a fifth more so a refused crowd does
				// not return in step, rather than guess with backoff.
				d = wait + rand.N(wait/5+1)
			}
			s.c.log.Debug("transient failure, retrying", "attempt", attempt, "wait", d, "err", err)
			if err := s.c.opts.Sleep(ctx, d); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// backoff is the wait before retry n (1-based): RetryBase doubled per
// retry, capped at RetryMax, with "equal jitter" (half fixed, half random)
// so a hundred tablets coming back online do not retry in step.
func (c *Client) backoff(n int) time.Duration {
	d := c.opts.RetryMax
	if n < 31 {
		if e := c.opts.RetryBase << (n - 1); e > 0 && e < d {
			d = e
		}
	}
	half := d / 2
	return half + rand.N(half+1)
}

func (s *syncRun) push(ctx context.Context) error {
	var total int
	if err := s.c.view(func(tx *bolt.Tx, _ codec) error {
		total = tx.Bucket(bucketOutbox).Stats().KeyN
		return nil
	}); err != nil {
		return err
	}
	var after uint64
	done := 0
	for {
		batch, err := s.readBatch(after)
		if err != nil || len(batch) == 0 {
			return err
		}
		after = batch[len(batch)-1].Seq
		if err := s.pushBatch(ctx, batch); err != nil {
			return err
		}
		done += len(batch)
		s.rep.Batches++
		s.report(Progress{Phase: PhasePush, Done: done, Total: max(total, done), Pages: s.rep.Batches})
	}
}

// pushBatch sends one batch and records the answer. A batch the server
// refuses whole (EINVALID: a body it cannot read; ETOOLARGE) is split in
// halves until the op at fault is alone, and that op is parked as
// rejected: one bad op never blocks the others.
func (s *syncRun) pushBatch(ctx context.Context, batch []*storedOp) error {
	req := &syncengine.PushRequest{Ops: make([]syncengine.WireOp, len(batch)), DeviceTime: s.c.opts.DeviceClock.Now().UnixMilli()}
	for i, so := range batch {
		req.Ops[i] = so.Op
	}
	var resp *syncengine.PushResponse
	err := s.retry(ctx, true, func(ctx context.Context) error {
		var err error
		resp, err = s.tr.Push(ctx, req)
		return err
	})
	if isCode(err, syncengine.EINVALID) || isCode(err, syncengine.ETOOLARGE) {
		if len(batch) == 1 {
			var se *syncengine.Error
			errors.As(err, &se)
			resp = &syncengine.PushResponse{Rejected: []syncengine.Rejection{{OpID: batch[0].Op.ID, Code: se.Code, Message: se.Message}}}
			err = nil
		} else {
			mid := len(batch) / 2
			if err := s.pushBatch(ctx, batch[:mid]); err != nil {
				return err
			}
			return s.pushBatch(ctx, batch[mid:])
		}
	}
	if err != nil {
		return err
	}
	if err := s.applyPush(batch, resp); err != nil {
		return fmt.Errorf("store push result: %w", err)
	}
	return nil
}

// readBatch reads up to BatchSize queued ops after seq.
func (s *syncRun) readBatch(after uint64) ([]*storedOp, error) {
	var batch []*storedOp
	err := s.c.view(func(tx *bolt.Tx, cd codec) error {
		cur := tx.Bucket(bucketOutbox).Cursor()
		for k, v := cur.Seek(seqKey(after + 1)); k != nil && len(batch) < s.c.opts.BatchSize; k, v = cur.Next() {
			so, err := cd.decodeOp(v)
			if err != nil {
				return fmt.Errorf("outbox %x: %w", k, err)
			}
			batch = append(batch, so)
		}
		return nil
	})
	return batch, err
}

// applyPush records the server's answer to one batch in one transaction:
// acknowledged ops move to sent and into the server state of their record,
// refused ones are parked, restamps replace the local stamp. Ops the server
// did not answer for stay queued.
func (s *syncRun) applyPush(batch []*storedOp, resp *syncengine.PushResponse) error {
	acked := make(map[string]bool, len(resp.Acked))
	for _, id := range resp.Acked {
		acked[id] = true
	}
	rejected := make(map[string]syncengine.Rejection, len(resp.Rejected))
	for _, r := range resp.Rejected {
		rejected[r.OpID] = r
	}
	flagged := make(map[string]syncengine.FlaggedOp, len(resp.Flagged))
	for _, f := range resp.Flagged {
		flagged[f.OpID] = f
	}
	now := s.c.opts.DeviceClock.Now()
	return s.c.update(func(tx *bolt.Tx, cd codec) error {
		rs := s.c.recordsOf(tx, cd)
		sent, parked := tx.Bucket(bucketSent), tx.Bucket(bucketRejected)
		m := meta{tx.Bucket(bucketMeta)}
		affected := map[string]bool{}
		var restamp syncengine.HLC
		for _, so := range batch {
			id := so.Op.ID
			key := so.Op.Collection + "/" + so.Op.RecordID
			var target *bolt.Bucket
			switch rej, isRejected := rejected[id]; {
			case acked[id]:
				if f, ok := flagged[id]; ok {
					if h := s.applyFlags(so, f); h > restamp {
						restamp = h
					}
				}
				if err := s.mergeServer(rs, key, so.op()); err != nil {
					return err
				}
				target = sent
				s.rep.Pushed++
			case isRejected:
				so.Code, so.Message, so.RejectedMs = rej.Code, rej.Message, now.UnixMilli()
				target = parked
				s.rep.Rejected++
				s.c.log.Warn("op rejected by server", "op", id, "record", key, "code", rej.Code, "message", rej.Message)
			default:
				continue
			}
			b, err := cd.encodeOp(so)
			if err != nil {
				return err
			}
			if err := target.Put([]byte(id), b); err != nil {
				return fmt.Errorf("move op %s: %w", id, err)
			}
			if err := rs.outbox.Delete(seqKey(so.Seq)); err != nil {
				return fmt.Errorf("dequeue op %s: %w", id, err)
			}
			if err := rs.pending.Delete(pendingKey(key, so.Seq)); err != nil {
				return fmt.Errorf("unindex op %s: %w", id, err)
			}
			affected[key] = true
		}
		for key := range affected {
			e, err := rs.get(key)
			if err != nil {
				return err
			}
			if e == nil {
				e = &recordEntry{}
			}
			if err := rs.rebuild(key, e); err != nil {
				return err
			}
		}
		if restamp != 0 {
			// The server said our clock ran far ahead and gave these ops its
			// own time: stop stamping from the future.
			s.c.clock.Reset(restamp)
		}
		s.saveClock(tx, m)
		return m.putInt(metaLastHLC, int64(s.c.clock.Last()))
	})
}

// applyFlags records the server's flags on an op and its new stamp if it
// was restamped; it returns the new stamp (0 if none).
func (s *syncRun) applyFlags(so *storedOp, f syncengine.FlaggedOp) syncengine.HLC {
	for _, fl := range f.Flags {
		present := false
		for _, have := range so.Flags {
			present = present || have == fl
		}
		if !present {
			so.Flags = append(so.Flags, fl)
		}
	}
	if f.HLC == 0 || f.HLC == so.Op.HLC {
		return 0
	}
	if so.StatedHLC == 0 {
		so.StatedHLC = so.Op.HLC
	}
	so.Op.HLC = f.HLC
	s.rep.Restamped++
	return syncengine.HLC(f.HLC)
}

// mergeServer merges an acknowledged op into the record's server state, as
// the server did; the next pull replaces it with the server's full state.
func (s *syncRun) mergeServer(rs records, key string, op *syncengine.Op) error {
	e, err := rs.get(key)
	if err != nil {
		return err
	}
	if e == nil {
		e = &recordEntry{}
	}
	var srv *syncengine.Record
	if e.Server != nil {
		srv = e.Server.FromWire()
	}
	next, _, err := syncengine.ApplyOp(srv, op, s.c.opts.Policy(op.Collection))
	if err != nil {
		return nil // the server state we hold is stale; the pull will bring the truth
	}
	w := next.ToWire()
	e.Server = &w
	return rs.put(key, e)
}

func (s *syncRun) pull(ctx context.Context) (reset bool, err error) {
	var cursor string
	if err := s.c.view(func(tx *bolt.Tx, _ codec) error {
		cursor = meta{tx.Bucket(bucketMeta)}.str(metaCursor)
		return nil
	}); err != nil {
		return false, err
	}
	for page := 0; ; page++ {
		var resp *syncengine.PullResponse
		err := s.retry(ctx, true, func(ctx context.Context) error {
			var err error
			resp, err = s.tr.Pull(ctx, cursor, s.c.opts.PageSize)
			return err
		})
		if err != nil {
			return reset, err
		}
		if resp.Reset && page > 0 {
			return reset, syncengine.Errorf(syncengine.ETRANSIENT, "服务器数据在同步过程中被恢复，请重新同步")
		}
		if err := s.applyPage(resp); err != nil {
			return reset, fmt.Errorf("store pulled page: %w", err)
		}
		reset = reset || resp.Reset
		s.rep.Pages++
		s.rep.Pulled += len(resp.Records)
		s.report(Progress{Phase: PhasePull, Done: s.rep.Pulled, Pages: s.rep.Pages})
		if !resp.More || resp.Cursor == cursor {
			return reset, nil
		}
		cursor = resp.Cursor
	}
}

// applyPage stores one pulled page and its cursor in one transaction. The
// server's record states are authoritative; each record's pending ops are
// re-applied on top.
func (s *syncRun) applyPage(resp *syncengine.PullResponse) error {
	return s.c.update(func(tx *bolt.Tx, cd codec) error {
		m := meta{tx.Bucket(bucketMeta)}
		if resp.Reset {
			if err := s.resetTx(tx, cd); err != nil {
				return fmt.Errorf("reset: %w", err)
			}
		}
		rs := s.c.recordsOf(tx, cd)
		var newest syncengine.HLC
		for i := range resp.Records {
			w := resp.Records[i]
			if !plausibleRecord(&w) {
				s.c.log.Warn("pulled record ignored: bad id", "collection", w.Collection, "id", w.ID)
				continue
			}
			key := w.Collection + "/" + w.ID
			e, err := rs.get(key)
			if err != nil {
				return err
			}
			if e == nil {
				e = &recordEntry{}
			}
			e.Server = &w
			if err := rs.rebuild(key, e); err != nil {
				return err
			}
			for _, f := range w.Fields {
				if h := syncengine.HLC(f.HLC); h > newest {
					newest = h
				}
			}
		}
		if newest != 0 {
			s.c.clock.Observe(newest)
		}
		s.saveClock(tx, m)
		if err := m.putInt(metaLastHLC, int64(s.c.clock.Last())); err != nil {
			return err
		}
		return m.putStr(metaCursor, resp.Cursor)
	})
}

// plausibleRecord rejects records whose key would be ambiguous.
func plausibleRecord(w *syncengine.WireRecord) bool {
	bad := func(s string) bool { return s == "" || len(s) > syncengine.MaxIDLen || strings.ContainsAny(s, "/\x00") }
	return !bad(w.ID) && !bad(w.Collection) && w.Fields != nil
}

// resetTx handles a server that no longer knows our cursor (restored from
// a backup): every sent op goes back to the outbox at its original place,
// the server-derived state is dropped, and each record's view is rebuilt
// from the queued ops alone until the pull brings the server's state.
func (s *syncRun) resetTx(tx *bolt.Tx, cd codec) error {
	s.rep.Reset = true
	outbox := tx.Bucket(bucketOutbox)
	err := tx.Bucket(bucketSent).ForEach(func(k, v []byte) error {
		so, err := cd.decodeOp(v)
		if err != nil {
			return fmt.Errorf("sent op %s: %w", k, err)
		}
		if so.Seq == 0 || outbox.Get(seqKey(so.Seq)) != nil {
			if so.Seq, err = outbox.NextSequence(); err != nil {
				return err
			}
			if v, err = cd.encodeOp(so); err != nil {
				return err
			}
		}
		return outbox.Put(seqKey(so.Seq), v)
	})
	if err != nil {
		return err
	}
	for _, name := range [][]byte{bucketSent, bucketRecords, bucketPending} {
		if err := tx.DeleteBucket(name); err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("recreate %s: %w", name, err)
		}
	}
	rs := s.c.recordsOf(tx, cd)
	keys := map[string]bool{}
	err = outbox.ForEach(func(k, v []byte) error {
		var head struct {
			Op struct {
				RecordID   string `json:"rid"`
				Collection string `json:"col"`
			} `json:"op"`
		}
		if err := json.Unmarshal(v, &head); err != nil {
			return fmt.Errorf("outbox %x: %w", k, err)
		}
		key := head.Op.Collection + "/" + head.Op.RecordID
		keys[key] = true
		return rs.pending.Put(pendingKey(key, binaryUint(k)), nil)
	})
	if err != nil {
		return err
	}
	for key := range keys {
		if err := rs.rebuild(key, &recordEntry{}); err != nil {
			return err
		}
	}
	return meta{tx.Bucket(bucketMeta)}.del(metaCursor)
}

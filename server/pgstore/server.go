package pgstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// What the HTTP server and the upload service keep beside the core's
// tables (migration 0002): blob facts, upload state, web sessions, the
// audit chain, and the area scans reports and evidence checks read.

var (
	_ core.AuditTx      = (*Tx)(nil)
	_ core.BlobTx       = (*Tx)(nil)
	_ core.UploadTx     = (*Tx)(nil)
	_ core.WebSessionTx = (*Tx)(nil)
	_ core.ScanTx       = (*Tx)(nil)
)

// scanPage is how many rows a scan reads per query. A page is read whole
// before the caller sees it: a connection runs one query at a time, and
// callers look up other rows (blobs, ops) while they scan.
const scanPage = 1000

// getJSON reads the jsonb body of one row into v; found is false when
// there is no such row.
func (t *Tx) getJSON(what, query string, arg any, v any) (found bool, err error) {
	err = t.tx.QueryRow(t.ctx, query, arg).Scan(v)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", what, err)
	}
	return true, nil
}

// pageKeys walks a table in key order a page at a time: query selects
// key and body with key > $1, ordered, limited to scanPage; each body is
// handed to fn until it returns false.
func pageKeys[T any](t *Tx, what, query string, fn func(*T) bool) error {
	after := ""
	for {
		rows, err := t.tx.Query(t.ctx, query, after, scanPage)
		if err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		var page []*T
		for rows.Next() {
			v := new(T)
			if err := rows.Scan(&after, v); err != nil {
				rows.Close()
				return fmt.Errorf("read %s: %w", what, err)
			}
			page = append(page, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		for _, v := range page {
			if !fn(v) {
				return nil
			}
		}
		if len(page) < scanPage {
			return nil
		}
	}
}

// lockKey takes, in a write transaction, a lock of its own on one blob
// or upload until the transaction ends: such transactions run outside the
// sequencer, and two servers updating one blob's refs or one upload's
// state must not both read the old one.
func (t *Tx) lockKey(key string) error {
	if !t.write {
		return nil
	}
	if _, err := t.tx.Exec(t.ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key); err != nil {
		return fmt.Errorf("lock %s: %w", key, err)
	}
	return nil
}

// Blob implements core.BlobTx. In a write transaction the blob stays
// locked to the end (lockKey).
func (t *Tx) Blob(sha string) (*core.Blob, error) {
	if err := t.lockKey("blob:" + sha); err != nil {
		return nil, err
	}
	var b core.Blob
	found, err := t.getJSON("blob "+sha, "SELECT body FROM blobs WHERE sha256 = $1", sha, &b)
	if err != nil || !found {
		return nil, err
	}
	return &b, nil
}

// PutBlob implements core.BlobTx. A claim of the processing queue is
// kept while the blob stays in processing and dropped once it leaves.
func (t *Tx) PutBlob(b *core.Blob) error {
	if err := t.lockKey("blob:" + b.SHA256); err != nil {
		return err
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO blobs (sha256, status, created_at, body) VALUES ($1, $2, $3, $4)
		ON CONFLICT (sha256) DO UPDATE SET status = EXCLUDED.status, body = EXCLUDED.body,
			claimed_by = CASE WHEN EXCLUDED.status = 'processing' THEN blobs.claimed_by END,
			claimed_until = CASE WHEN EXCLUDED.status = 'processing' THEN blobs.claimed_until END`,
		b.SHA256, string(b.Status), b.CreatedAt, b); err != nil {
		return fmt.Errorf("store blob %s: %w", b.SHA256, err)
	}
	return nil
}

// Blobs implements core.BlobTx, in sha256 order.
func (t *Tx) Blobs(fn func(*core.Blob) bool) error {
	return pageKeys(t, "blobs", "SELECT sha256, body FROM blobs WHERE sha256 > $1 ORDER BY sha256 LIMIT $2", fn)
}

// Upload implements core.UploadTx. In a write transaction the upload
// stays locked to the end (lockKey).
func (t *Tx) Upload(id string) (*core.Upload, error) {
	if err := t.lockKey("upload:" + id); err != nil {
		return nil, err
	}
	var u core.Upload
	found, err := t.getJSON("upload "+id, "SELECT body FROM uploads WHERE id = $1", id, &u)
	if err != nil || !found {
		return nil, err
	}
	return &u, nil
}

// PutUpload implements core.UploadTx.
func (t *Tx) PutUpload(u *core.Upload) error {
	if err := t.lockKey("upload:" + u.ID); err != nil {
		return err
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO uploads (id, expires_at, body) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at, body = EXCLUDED.body`,
		u.ID, u.ExpiresAt, u); err != nil {
		return fmt.Errorf("store upload %s: %w", u.ID, err)
	}
	return nil
}

// DeleteUpload implements core.UploadTx.
func (t *Tx) DeleteUpload(id string) error {
	if _, err := t.tx.Exec(t.ctx, "DELETE FROM uploads WHERE id = $1", id); err != nil {
		return fmt.Errorf("delete upload %s: %w", id, err)
	}
	return nil
}

// Uploads implements core.UploadTx, in id order.
func (t *Tx) Uploads(fn func(*core.Upload) bool) error {
	return pageKeys(t, "uploads", "SELECT id, body FROM uploads WHERE id > $1 ORDER BY id LIMIT $2", fn)
}

// WebSession implements core.WebSessionTx.
func (t *Tx) WebSession(key string) (*core.WebSession, error) {
	var s core.WebSession
	found, err := t.getJSON("web session", "SELECT body FROM web_sessions WHERE key = $1", key, &s)
	if err != nil || !found {
		return nil, err
	}
	return &s, nil
}

// PutWebSession implements core.WebSessionTx.
func (t *Tx) PutWebSession(s *core.WebSession) error {
	if s.Key == "" {
		return errors.New("web session without a key")
	}
	if _, err := t.tx.Exec(t.ctx, `INSERT INTO web_sessions (key, expires_at, body) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at, body = EXCLUDED.body`,
		s.Key, s.ExpiresAt, s); err != nil {
		return fmt.Errorf("store web session: %w", err)
	}
	return nil
}

// DeleteWebSession implements core.WebSessionTx.
func (t *Tx) DeleteWebSession(key string) error {
	if _, err := t.tx.Exec(t.ctx, "DELETE FROM web_sessions WHERE key = $1", key); err != nil {
		return fmt.Errorf("delete web session: %w", err)
	}
	return nil
}

// DeleteExpiredWebSessions implements core.WebSessionTx.
func (t *Tx) DeleteExpiredWebSessions(now time.Time) (int, error) {
	tag, err := t.tx.Exec(t.ctx, "DELETE FROM web_sessions WHERE expires_at <= $1", now)
	if err != nil {
		return 0, fmt.Errorf("delete expired web sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// AppendAudit implements core.AuditTx. An entry is linked to the head
// under the sequencer, so two appends never read the same head; in
// deferred mode that happens at commit, in the database (Tx.flush).
func (t *Tx) AppendAudit(e *audit.Entry) error {
	if !t.write {
		return errors.New("audit append in a read-only transaction")
	}
	if t.deferred {
		if err := e.Validate(); err != nil {
			return err
		}
		if err := t.touch(); err != nil {
			return err
		}
		t.pending.audits = append(t.pending.audits, e)
		return nil
	}
	if err := t.sequence(); err != nil {
		return err
	}
	var head *audit.Entry
	var raw []byte
	err := t.tx.QueryRow(t.ctx, "SELECT body FROM audit ORDER BY seq DESC LIMIT 1").Scan(&raw)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return fmt.Errorf("read audit head: %w", err)
	default:
		if head, err = audit.Unmarshal(raw); err != nil {
			return fmt.Errorf("audit head: %w", err)
		}
	}
	if err := audit.Link(head, e); err != nil {
		return err
	}
	if _, err := t.tx.Exec(t.ctx, "INSERT INTO audit (seq, body) VALUES ($1, $2)", int64(e.Seq), e.Marshal()); err != nil {
		return fmt.Errorf("store audit entry %d: %w", e.Seq, err)
	}
	return nil
}

// AuditEntries implements core.AuditTx: newest first, below before (0:
// from the head); entries that do not decode are skipped.
func (t *Tx) AuditEntries(before uint64, fn func(*audit.Entry) bool) error {
	if err := t.sequence(); err != nil {
		return err
	}
	below := int64(math.MaxInt64)
	if before != 0 && before < math.MaxInt64 {
		below = int64(before)
	}
	for {
		rows, err := t.tx.Query(t.ctx, "SELECT seq, body FROM audit WHERE seq < $1 ORDER BY seq DESC LIMIT $2", below, scanPage)
		if err != nil {
			return fmt.Errorf("read audit entries: %w", err)
		}
		var page []*audit.Entry
		n := 0
		for rows.Next() {
			var raw []byte
			if err := rows.Scan(&below, &raw); err != nil {
				rows.Close()
				return fmt.Errorf("read audit entries: %w", err)
			}
			n++
			if e, err := audit.Unmarshal(raw); err == nil {
				page = append(page, e)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read audit entries: %w", err)
		}
		for _, e := range page {
			if !fn(e) {
				return nil
			}
		}
		if n < scanPage {
			return nil
		}
	}
}

// VerifyAudit implements core.AuditTx: the whole chain in sequence
// order, then the anchor when one is given.
func (t *Tx) VerifyAudit(anchor *audit.Head) (audit.Head, error) {
	if err := t.sequence(); err != nil {
		return audit.Head{}, err
	}
	var v audit.Verifier
	after := int64(0)
	for {
		rows, err := t.tx.Query(t.ctx, "SELECT seq, body FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2", after, scanPage)
		if err != nil {
			return audit.Head{}, fmt.Errorf("read audit chain: %w", err)
		}
		type entry struct {
			seq int64
			raw []byte
		}
		var page []entry
		for rows.Next() {
			var e entry
			if err := rows.Scan(&e.seq, &e.raw); err != nil {
				rows.Close()
				return audit.Head{}, fmt.Errorf("read audit chain: %w", err)
			}
			page = append(page, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return audit.Head{}, fmt.Errorf("read audit chain: %w", err)
		}
		for _, e := range page {
			if err := v.Next(uint64(e.seq), e.raw); err != nil {
				return audit.Head{}, err
			}
			after = e.seq
		}
		if len(page) < scanPage {
			break
		}
	}
	head := v.Head()
	if anchor == nil {
		return head, nil
	}
	var lookupErr error
	err := audit.CheckAnchor(*anchor, head, func(seq uint64) []byte {
		var raw []byte
		if err := t.tx.QueryRow(t.ctx, "SELECT body FROM audit WHERE seq = $1", int64(seq)).Scan(&raw); err != nil {
			if !errors.Is(err, pgx.ErrNoRows) {
				lookupErr = fmt.Errorf("read audit entry %d: %w", seq, err)
			}
			return nil
		}
		e, err := audit.Unmarshal(raw)
		if err != nil {
			return nil
		}
		return e.Hash
	})
	if lookupErr != nil {
		return head, lookupErr
	}
	return head, err
}

// OpReceivedAt implements core.ScanTx.
func (t *Tx) OpReceivedAt(opID string) (time.Time, bool, error) {
	if err := t.sequence(); err != nil {
		return time.Time{}, false, err
	}
	var ms int64
	err := t.tx.QueryRow(t.ctx, "SELECT o.received_at FROM "+opByKeySQL, opID).Scan(&ms)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read receipt of op %s: %w", opID, err)
	}
	return time.UnixMilli(ms).UTC(), true, nil
}

// prefixEnd is the first string after every string that starts with p
// (the open end of p's range), false when there is none (p is empty or
// all 0xff bytes).
func prefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// areaCond is the condition "area starts with prefix" as a byte range
// (records.area is C-collated), numbering its parameters from n; it
// returns the condition and its arguments. A prefix that names a county
// or less also names the county, so the query reads its partition only.
func areaCond(prefix string, n int) (string, []any) {
	if prefix == "" {
		return "TRUE", nil
	}
	var cond string
	var args []any
	if end, ok := prefixEnd(prefix); ok {
		cond, args = fmt.Sprintf("area >= $%d AND area < $%d", n, n+1), []any{prefix, end}
	} else {
		cond, args = fmt.Sprintf("area >= $%d", n), []any{prefix}
	}
	if county, ok := countyOf(prefix); ok {
		cond += fmt.Sprintf(" AND county = $%d", n+len(args))
		args = append(args, county)
	}
	return cond, args
}

// storedRow is one record a scan read.
type storedRow struct {
	id, area string
	body     []byte
}

// scanPages calls fn with the records of a collection in the area
// prefix, in id order, a page at a time, tombstoned ones too unless live.
// It reads them through a cursor of the transaction, so the whole scan is
// one query plan, and fn may run other queries between pages.
func (t *Tx) scanPages(collection, areaPrefix string, live bool, fn func([]storedRow) error) error {
	if err := t.sequence(); err != nil {
		return err
	}
	cond, args := areaCond(areaPrefix, 2)
	q := "SELECT id, area, body FROM records WHERE collection = $1 AND " + cond
	if live {
		q += " AND NOT deleted"
	}
	cursor := "ruhu_scan_" + randomHex(8)
	if _, err := t.tx.Exec(t.ctx, "DECLARE "+cursor+" NO SCROLL CURSOR FOR "+q+" ORDER BY id", append([]any{collection}, args...)...); err != nil {
		return fmt.Errorf("scan %s in %q: %w", collection, areaPrefix, err)
	}
	fetch := fmt.Sprintf("FETCH %d FROM %s", scanPage, cursor)
	for {
		rows, err := t.tx.Query(t.ctx, fetch)
		if err != nil {
			return fmt.Errorf("scan %s in %q: %w", collection, areaPrefix, err)
		}
		var page []storedRow
		for rows.Next() {
			var r storedRow
			if err := rows.Scan(&r.id, &r.area, &r.body); err != nil {
				rows.Close()
				return fmt.Errorf("scan %s: %w", collection, err)
			}
			page = append(page, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("scan %s: %w", collection, err)
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		if len(page) < scanPage {
			break
		}
	}
	if _, err := t.tx.Exec(t.ctx, "CLOSE "+cursor); err != nil {
		return fmt.Errorf("scan %s: close cursor: %w", collection, err)
	}
	return nil
}

// scanRows is scanPages one record at a time.
func (t *Tx) scanRows(collection, areaPrefix string, live bool, fn func(storedRow) error) error {
	return t.scanPages(collection, areaPrefix, live, func(page []storedRow) error {
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// ForEachRecordIn implements core.ScanTx.
func (t *Tx) ForEachRecordIn(collection, areaPrefix string, fn func(*syncengine.Record) error) error {
	return t.scanRows(collection, areaPrefix, false, func(r storedRow) error {
		rec, err := decodeRecord(r.body)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", collection, r.id, err)
		}
		return fn(rec)
	})
}

// ScanRecordsIn implements core.ScanTx.
func (t *Tx) ScanRecordsIn(collection, areaPrefix string, want []string, fn func(id, area string, fields []core.FieldView) error) error {
	fields := make([]core.FieldView, len(want))
	return t.scanRows(collection, areaPrefix, true, func(r storedRow) error {
		var w syncengine.WireRecord
		if err := json.Unmarshal(r.body, &w); err != nil {
			return fmt.Errorf("decode %s/%s: %w", collection, r.id, err)
		}
		clear(fields)
		for i, name := range want {
			if f, ok := w.Fields[name]; ok {
				fields[i] = core.FieldView{Value: f.Value, HLC: syncengine.HLC(f.HLC), Author: []byte(f.Author), OpID: []byte(f.OpID)}
			}
		}
		return fn(r.id, r.area, fields)
	})
}

// ScanReportRows implements core.ScanTx from the records themselves: the
// fields of core.ReportFields, with the parts the projection keeps. The
// receipt times a page needs are read in one query.
func (t *Tx) ScanReportRows(collection, areaPrefix string, want []string, fn func(id, area string, fields []core.FieldView) error) error {
	spec := core.ReportFields(collection)
	if spec == nil {
		return fmt.Errorf("report rows: collection %s is not projected", collection)
	}
	kept := make([]core.ReportField, len(want))
	received := false
	for i, name := range want {
		j := -1
		for k, f := range spec {
			if f.Name == name {
				j = k
			}
		}
		if j < 0 {
			return fmt.Errorf("report rows: %s.%s is not projected", collection, name)
		}
		kept[i] = spec[j]
		received = received || spec[j].Received
	}
	fields := make([]core.FieldView, len(want))
	recs := make([]syncengine.WireRecord, 0, scanPage)
	return t.scanPages(collection, areaPrefix, true, func(page []storedRow) error {
		recs = recs[:0]
		var opIDs []string
		for _, r := range page {
			var w syncengine.WireRecord
			if err := json.Unmarshal(r.body, &w); err != nil {
				return fmt.Errorf("decode %s/%s: %w", collection, r.id, err)
			}
			recs = append(recs, w)
			if received {
				for i, f := range kept {
					if fv, ok := w.Fields[want[i]]; ok && f.Received {
						opIDs = append(opIDs, fv.OpID)
					}
				}
			}
		}
		at, err := t.receivedAt(opIDs)
		if err != nil {
			return err
		}
		for n, r := range page {
			clear(fields)
			for i, f := range kept {
				fv, ok := recs[n].Fields[want[i]]
				if !ok {
					continue
				}
				v := &fields[i]
				v.Value = fv.Value
				if f.HLC || f.Received {
					v.HLC = syncengine.HLC(fv.HLC)
				}
				if f.Author {
					v.Author = []byte(fv.Author)
				}
				if f.Received {
					if ms, found := at[fv.OpID]; found {
						v.Received = time.UnixMilli(ms).UTC()
					} else {
						v.Received = v.HLC.Time()
					}
				}
				if !f.HLC {
					v.HLC = 0
				}
			}
			if err := fn(r.id, r.area, fields); err != nil {
				return err
			}
		}
		return nil
	})
}

// receivedAt reads the receipt times (Unix ms) of accepted ops by id;
// ids of no accepted op are absent from the map.
func (t *Tx) receivedAt(ids []string) (map[string]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := t.tx.Query(t.ctx, `SELECT o.id, o.received_at FROM op_keys k JOIN ops o ON `+opJoinSQL+` WHERE k.id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read receipt times: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int64, len(ids))
	for rows.Next() {
		var id string
		var ms int64
		if err := rows.Scan(&id, &ms); err != nil {
			return nil, fmt.Errorf("read receipt times: %w", err)
		}
		out[id] = ms
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read receipt times: %w", err)
	}
	return out, nil
}

// CountReportRows implements core.ScanTx.
func (t *Tx) CountReportRows(collection, areaPrefix string) (int, error) {
	if err := t.sequence(); err != nil {
		return 0, err
	}
	if core.ReportFields(collection) == nil {
		return 0, fmt.Errorf("report rows: collection %s is not projected", collection)
	}
	cond, args := areaCond(areaPrefix, 2)
	var n int64
	if err := t.tx.QueryRow(t.ctx, "SELECT count(*) FROM records WHERE collection = $1 AND NOT deleted AND "+cond,
		append([]any{collection}, args...)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s in %q: %w", collection, areaPrefix, err)
	}
	return int(n), nil
}

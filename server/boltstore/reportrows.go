package boltstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// The report projection: for every live record of the collections the
// compliance report reads, the few fields it reads, in a compact binary
// row kept in its own bucket. PutRecord writes a record's row in the same
// transaction as the record, so the projection is never behind the
// records; Open rebuilds it from the records when the file predates it or
// its layout changed. A county report then reads about 100 bytes per visit
// instead of the whole stored JSON (a tenth of the bytes, and a tenth of
// the file pages mapped into the process).
//
// Rows are keyed like records ("col/id"), so a scan returns records in
// the same order ScanRecordsIn does. The projection holds stored facts
// only, no rule or policy figure: a policy change needs no rebuild.
var (
	bucketReportRows   = []byte("reportrows")   // "col/id" -> report row
	bucketReportCounts = []byte("reportcounts") // col 0x00 area -> rows of the collection in the area (8 bytes)
	keyReportRows      = []byte("reportrows")   // in meta: the layout version the buckets hold
)

// reportBuckets are the buckets RebuildReportRows recomputes: the
// projection and the visit indexes (visitindex.go).
var reportBuckets = [][]byte{bucketReportRows, bucketReportCounts, bucketVisitsByHousehold, bucketVisitPhotos}

// summaryBuckets are the buckets RebuildReportRows recomputes after the
// projection, from the visit index (summaries.go).
var summaryBuckets = [][]byte{bucketVisitSummaries}

// reportRowsVersion is the layout of the rows and the field list below.
// Change it with either: Open then rebuilds the projection.
const reportRowsVersion = 5

// ReportField is core.ReportField: a field the projection keeps.
type ReportField = core.ReportField

// ReportFields returns the fields the report projection keeps for a
// collection (core.ReportFields); nil when it does not project the
// collection.
func ReportFields(collection string) []ReportField {
	return core.ReportFields(collection)
}

// projectRecord writes or removes the report row of rec, which op has
// just changed (op's id is already in history). Called by PutRecord.
func (t *Tx) projectRecord(key []byte, rec *syncengine.Record, op *syncengine.Op) error {
	spec := core.ReportFields(rec.Collection)
	if spec == nil {
		return nil
	}
	rows := t.tx.Bucket(bucketReportRows)
	if rows == nil {
		return nil // a file opened before the projection existed; Open rebuilds it
	}
	old := rows.Get(key)
	existed := old != nil
	deleted, _ := rec.Deleted()
	if rec.Collection == collection.Visits {
		value := func(name string) []byte {
			if fs, ok := rec.Fields[name]; ok {
				return fs.Value
			}
			return nil
		}
		f := visitFields{visitedAt: value("visited_at"), household: value("household_id"),
			answeredBy: value("answered_by_member_id"), answeredByName: value("answered_by_name"), officer: value("officer"),
			gps: value("gps"), photos: value("photo_sha256s")}
		if err := t.indexVisit(key[len("visits/"):], old, rec.Area, f, !deleted); err != nil {
			return err
		}
	}
	if deleted {
		if !existed {
			return nil
		}
		if err := rows.Delete(key); err != nil {
			return err
		}
		return t.countRow(rec.Collection, rec.Area, -1)
	}
	views := make([]FieldView, len(spec))
	for i, f := range spec {
		fs, ok := rec.Fields[f.Name]
		if !ok {
			continue
		}
		views[i] = FieldView{Value: fs.Value, HLC: fs.HLC, Author: []byte(fs.Author), OpID: []byte(fs.OpID)}
		if f.Received && fs.OpID == op.ID {
			views[i].Received = time.UnixMilli(op.ReceivedAt.UnixMilli()).UTC()
		}
	}
	row, err := t.encodeReportRow(nil, rec.Area, spec, views)
	if err != nil {
		return fmt.Errorf("report row of %s: %w", key, err)
	}
	rows.FillPercent = 0.9 // ids are mostly time-ordered, as in the records bucket
	if err := rows.Put(key, row); err != nil {
		return err
	}
	if existed {
		return nil
	}
	return t.countRow(rec.Collection, rec.Area, 1)
}

// countKey is the key of a collection's row count in an area.
func countKey(collection, area string) []byte {
	return append(append([]byte(collection), 0), area...)
}

// countRow adds delta to the row count of a collection in an area.
func (t *Tx) countRow(collection, area string, delta int64) error {
	counts := t.tx.Bucket(bucketReportCounts)
	key := countKey(collection, area)
	var n int64
	if v := counts.Get(key); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	if n += delta; n <= 0 {
		return counts.Delete(key)
	}
	return counts.Put(key, u64(uint64(n)))
}

// encodeReportRow appends the row of a record: its area, then for each
// field of spec a presence byte and, when present, the value and the
// parts spec keeps. A Received field whose time views does not carry is
// resolved from history (see FieldView.Received).
func (t *Tx) encodeReportRow(b []byte, area string, spec []ReportField, views []FieldView) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(area)))
	b = append(b, area...)
	for i, f := range spec {
		v := &views[i]
		if v.Value == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(v.Value)))
		b = append(b, v.Value...)
		if f.HLC {
			b = binary.AppendUvarint(b, uint64(v.HLC))
		}
		if f.Author {
			b = binary.AppendUvarint(b, uint64(len(v.Author)))
			b = append(b, v.Author...)
		}
		if f.Received {
			at := v.Received
			if at.IsZero() {
				var found bool
				var err error
				if at, found, err = t.OpReceivedAt(string(v.OpID)); err != nil {
					return nil, err
				} else if !found {
					at = v.HLC.Time()
				}
			}
			b = binary.AppendVarint(b, at.UnixMilli())
		}
	}
	return b, nil
}

// decodeReportRow reads a row into views (one per field of spec); the
// views borrow row's bytes. ok is false when the row is malformed.
func decodeReportRow(row []byte, spec []ReportField, views []FieldView) (area []byte, ok bool) {
	var n int
	if area, n, ok = readBytes(row); !ok {
		return nil, false
	}
	row = row[n:]
	for i, f := range spec {
		if len(row) == 0 {
			return nil, false
		}
		present := row[0]
		row = row[1:]
		views[i] = FieldView{}
		if present == 0 {
			continue
		}
		v := &views[i]
		if v.Value, n, ok = readBytes(row); !ok {
			return nil, false
		}
		row = row[n:]
		if f.HLC {
			h, n := binary.Uvarint(row)
			if n <= 0 {
				return nil, false
			}
			v.HLC, row = syncengine.HLC(h), row[n:]
		}
		if f.Author {
			if v.Author, n, ok = readBytes(row); !ok {
				return nil, false
			}
			row = row[n:]
		}
		if f.Received {
			ms, n := binary.Varint(row)
			if n <= 0 {
				return nil, false
			}
			v.Received, row = time.UnixMilli(ms).UTC(), row[n:]
		}
	}
	return area, len(row) == 0
}

// readBytes reads a length-prefixed byte string; n is the bytes consumed.
func readBytes(b []byte) (s []byte, n int, ok bool) {
	l, m := binary.Uvarint(b)
	if m <= 0 || uint64(len(b)-m) < l {
		return nil, 0, false
	}
	return b[m : m+int(l)], m + int(l), true
}

// ScanReportRows is ScanRecordsIn over the report projection: it calls fn
// for every live record of a collection whose area code starts with
// areaPrefix, in id order, with the fields named in want (fields[i] is
// want[i], reused between calls, borrowed from the transaction). It reads
// the compact rows PutRecord keeps, not the records; FieldView.OpID is
// always nil, and the HLC, Author and Received of a field are set only
// when the projection keeps them (ReportFields). It fails when the
// collection is not projected or want names a field the projection does
// not keep: the projection and its readers must agree.
func (t *Tx) ScanReportRows(collection, areaPrefix string, want []string, fn func(id, area string, fields []FieldView) error) error {
	spec := core.ReportFields(collection)
	if spec == nil {
		return fmt.Errorf("report rows: collection %s is not projected", collection)
	}
	slot := make([]int, len(want))
	for i, name := range want {
		slot[i] = -1
		for j, f := range spec {
			if f.Name == name {
				slot[i] = j
			}
		}
		if slot[i] < 0 {
			return fmt.Errorf("report rows: %s.%s is not projected", collection, name)
		}
	}
	rows := t.tx.Bucket(bucketReportRows)
	if rows == nil {
		return fmt.Errorf("report rows: the store has no projection (open it writable once to build it)")
	}
	views := make([]FieldView, len(spec))
	fields := make([]FieldView, len(want))
	prefix := []byte(collection + "/")
	// An area string is made once per distinct code: a county's records
	// share a few hundred village codes.
	areas := map[string]string{}
	// Every releaseEvery bytes of rows read, the pages read so far leave
	// the resident set (see releaseMapped): a county's rows are ~200 MB.
	const releaseEvery = 16 << 20
	read := 0
	defer t.releaseMapped()
	c := rows.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if read += len(k) + len(v); read >= releaseEvery {
			t.releaseMapped()
			read = 0
		}
		area, ok := rowArea(v)
		if !ok {
			return fmt.Errorf("report rows: malformed row %s", k)
		}
		if !bytes.HasPrefix(area, []byte(areaPrefix)) {
			continue
		}
		if _, ok := decodeReportRow(v, spec, views); !ok {
			return fmt.Errorf("report rows: malformed row %s", k)
		}
		for i, s := range slot {
			fields[i] = views[s]
		}
		a, seen := areas[string(area)]
		if !seen {
			a = string(area)
			areas[a] = a
		}
		if err := fn(string(k[len(prefix):]), a, fields); err != nil {
			return err
		}
	}
	return nil
}

// CountReportRows returns how many rows ScanReportRows would show for a
// collection and area prefix, from counts kept per collection and area
// beside the rows (a few hundred reads for a county, not a walk of its
// rows): readers size their slices with it rather than growing them by
// copies.
func (t *Tx) CountReportRows(collection, areaPrefix string) (int, error) {
	counts := t.tx.Bucket(bucketReportCounts)
	if counts == nil || core.ReportFields(collection) == nil {
		return 0, fmt.Errorf("report rows: collection %s is not projected", collection)
	}
	prefix := countKey(collection, areaPrefix)
	n := 0
	c := counts.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(v) != 8 {
			return 0, fmt.Errorf("report rows: malformed count %q", k)
		}
		n += int(binary.BigEndian.Uint64(v))
	}
	return n, nil
}

// rowArea reads the area at the head of a row.
func rowArea(row []byte) ([]byte, bool) {
	area, _, ok := readBytes(row)
	return area, ok
}

// ensureReportRows rebuilds the projection when the file holds none or
// one of another layout (see RebuildReportRows).
func (s *Store) ensureReportRows() error {
	current := false
	err := s.db.View(func(btx *bolt.Tx) error {
		v := btx.Bucket(bucketMeta).Get(keyReportRows)
		current = len(v) == 1 && v[0] == reportRowsVersion
		for _, name := range append(slices.Clip(reportBuckets), summaryBuckets...) {
			current = current && btx.Bucket(name) != nil
		}
		return nil
	})
	if err != nil || current {
		return err
	}
	return s.RebuildReportRows()
}

// rebuildBatch is how many records RebuildReportRows projects per write
// transaction, so a county's rebuild never holds a million dirty rows.
const rebuildBatch = 20_000

// RebuildReportRows recomputes the report projection from the stored
// records (and, for receipt times, history). Open runs it when the file
// predates the projection or its layout changed; tests run it to check
// that the rows PutRecord keeps equal a full recomputation. It writes in
// transactions of rebuildBatch records and marks the projection current
// only at the end, so a rebuild cut short is redone by the next Open.
// Writers must not run alongside it.
func (s *Store) RebuildReportRows() error {
	err := s.db.Update(func(btx *bolt.Tx) error {
		if err := btx.Bucket(bucketMeta).Delete(keyReportRows); err != nil {
			return err
		}
		for _, name := range reportBuckets {
			if btx.Bucket(name) != nil {
				if err := btx.DeleteBucket(name); err != nil {
					return err
				}
			}
			if _, err := btx.CreateBucket(name); err != nil {
				return err
			}
		}
		// Without their bucket the rows below leave the summaries alone:
		// they are made once the index is whole.
		for _, name := range summaryBuckets {
			if btx.Bucket(name) != nil {
				if err := btx.DeleteBucket(name); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild report rows: %w", err)
	}
	var after []byte // the last record key projected
	for done := false; !done; {
		err := s.db.Update(func(btx *bolt.Tx) error {
			t := &Tx{tx: btx}
			rows := btx.Bucket(bucketReportRows)
			rows.FillPercent = 0.9
			c := btx.Bucket(bucketRecords).Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for n := 0; ; n++ {
				if k == nil {
					done = true
					return nil
				}
				if n == rebuildBatch {
					return nil
				}
				if err := t.rebuildRow(rows, k, v); err != nil {
					return err
				}
				after = append(after[:0], k...)
				k, v = c.Next()
			}
		})
		if err != nil {
			return fmt.Errorf("rebuild report rows: %w", err)
		}
	}
	err = s.db.Update(func(btx *bolt.Tx) error {
		for _, name := range summaryBuckets {
			if _, err := btx.CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild report rows: %w", err)
	}
	if err := s.rebuildVisitSummaries(); err != nil {
		return err
	}
	err = s.db.Update(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketMeta).Put(keyReportRows, []byte{reportRowsVersion})
	})
	if err != nil {
		return fmt.Errorf("rebuild report rows: %w", err)
	}
	return nil
}

// rebuildRow projects one stored record, read the way ScanRecordsIn reads
// it (so the rebuild and the straightforward reading agree).
func (t *Tx) rebuildRow(rows *bolt.Bucket, key, raw []byte) error {
	col, _, ok := strings.Cut(string(key), "/")
	spec := core.ReportFields(col)
	if !ok || spec == nil {
		return nil
	}
	want := make([]string, len(spec), len(spec)+len(visitIndexExtra))
	for i, f := range spec {
		want[i] = f.Name
	}
	if col == collection.Visits {
		want = append(want, visitIndexExtra...)
	}
	views := make([]FieldView, len(want))
	_, area, deleted, ok := scanStored(raw, want, views)
	if !ok {
		rec, err := decodeStored(key, raw)
		if err != nil {
			return err
		}
		clear(views)
		for i, name := range want {
			if f, ok := rec.Fields[name]; ok {
				views[i] = FieldView{Value: f.Value, HLC: f.HLC, Author: []byte(f.Author), OpID: []byte(f.OpID)}
			}
		}
		area = rec.Area
		deleted, _ = rec.Deleted()
	}
	if deleted {
		return nil
	}
	if col == collection.Visits {
		value := func(name string) []byte { return views[slices.Index(want, name)].Value }
		f := visitFields{visitedAt: value("visited_at"), household: value("household_id"),
			answeredBy: value("answered_by_member_id"), answeredByName: value("answered_by_name"), officer: value("officer"),
			gps: value("gps"), photos: value("photo_sha256s")}
		if err := t.indexVisit(key[len("visits/"):], nil, area, f, true); err != nil {
			return err
		}
	}
	row, err := t.encodeReportRow(nil, area, spec, views[:len(spec)])
	if err != nil {
		return fmt.Errorf("report row of %s: %w", key, err)
	}
	if err := rows.Put(key, row); err != nil {
		return err
	}
	return t.countRow(col, area, 1)
}

// visitIndexExtra are the fields of a visit the visit indexes read beyond
// its report row's.
var visitIndexExtra = []string{"gps", "photo_sha256s"}

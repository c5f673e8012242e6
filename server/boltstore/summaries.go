package boltstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/server/core"
)

// Visit summaries: for each household and area with live visits, its
// entries of the by-household visit index folded by core.SummarizeVisits
// (months counted and the latest visit, per year and answering member;
// the visits without a member id kept whole). PutRecord rewrites a
// household's summary in the same transaction as any visit write that
// moves its entries, from those entries, so a summary is never behind the
// index; RebuildReportRows (`ruhu rebuild-summaries`) rebuilds them with
// the index from the records. A county report reads 100,000 summaries of
// about a tenth of a household's entries' bytes instead of its million
// entries. Summaries hold stored facts only, no rule or policy figure:
// which visits a report counts, lists or leaves out is still decided by
// the reader for its period, judging instant and the household's members.
var bucketVisitSummaries = []byte("visitsummary") // area 0x00 uvarint len(household) household id -> summary

// householdKeyOf returns the part of a by-household index key naming the
// area and household: the key without the visit id.
func householdKeyOf(key, id []byte) []byte {
	return key[:len(key)-len(id)]
}

// summarizeHousehold rewrites the summary of the household whose
// by-household key prefix is hhKey from its index entries, or removes it
// when the household has no entry left.
func (t *Tx) summarizeHousehold(hhKey []byte) error {
	sums := t.tx.Bucket(bucketVisitSummaries)
	if sums == nil {
		return nil // a file opened before summaries existed; Open rebuilds them
	}
	var value []byte
	err := t.scanVisitIndex(hhKey, func(_, _ []byte, visits []VisitEntry) error {
		s := core.SummarizeVisits(visits)
		value = appendVisitSummary(nil, &s)
		return nil
	})
	if err != nil {
		return fmt.Errorf("visit summary: %w", err)
	}
	if value == nil {
		return sums.Delete(hhKey)
	}
	if bytes.Equal(sums.Get(hhKey), value) {
		return nil
	}
	return sums.Put(hhKey, value)
}

// rebuildVisitSummaries writes the summary of every household in the
// by-household index, a batch of households per write transaction.
func (s *Store) rebuildVisitSummaries() error {
	var after []byte // the last household key summarized
	for done := false; !done; {
		err := s.db.Update(func(btx *bolt.Tx) error {
			t := &Tx{tx: btx}
			c := btx.Bucket(bucketVisitsByHousehold).Cursor()
			k, _ := c.First()
			if after != nil {
				k, _ = c.Seek(after)
			}
			for n := 0; ; n++ {
				// Skip the entries of the household summarized last.
				for k != nil && after != nil && bytes.HasPrefix(k, after) {
					k, _ = c.Next()
				}
				if k == nil {
					done = true
					return nil
				}
				if n == rebuildBatch {
					return nil
				}
				hh, err := householdKeyPrefix(k)
				if err != nil {
					return err
				}
				after = append(after[:0], hh...)
				if err := t.summarizeHousehold(after); err != nil {
					return err
				}
				// summarizeHousehold read with a cursor of its own; this
				// one still stands on the household's first entry.
			}
		})
		if err != nil {
			return fmt.Errorf("rebuild visit summaries: %w", err)
		}
	}
	return nil
}

// householdKeyPrefix returns the area and household part of a
// by-household index key.
func householdKeyPrefix(k []byte) ([]byte, error) {
	end := bytes.IndexByte(k, 0)
	if end < 0 {
		return nil, fmt.Errorf("visit index: malformed key %q", k)
	}
	_, n, ok := readBytes(k[end+1:])
	if !ok {
		return nil, fmt.Errorf("visit index: malformed key %q", k)
	}
	return k[:end+1+n], nil
}

// appendVisitSummary appends the stored form of a summary: MaxUnix, the
// groups (year, member, a bit mask of the months counted, their counts,
// the latest visit), then the unnamed visits (id and index value).
func appendVisitSummary(b []byte, s *core.VisitSummary) []byte {
	b = binary.AppendVarint(b, s.MaxUnix)
	b = binary.AppendUvarint(b, uint64(len(s.Groups)))
	for i := range s.Groups {
		g := &s.Groups[i]
		b = binary.AppendVarint(b, int64(g.Year))
		b = appendBytes(b, g.AnsweredByMemberID)
		var mask uint64
		for m, n := range g.Months {
			if n != 0 {
				mask |= 1 << m
			}
		}
		b = binary.AppendUvarint(b, mask)
		for _, n := range g.Months {
			if n != 0 {
				b = binary.AppendUvarint(b, uint64(n))
			}
		}
		b = binary.AppendVarint(b, g.LastUnix)
		b = appendBytes(b, g.LastID)
	}
	b = binary.AppendUvarint(b, uint64(len(s.Unnamed)))
	for i := range s.Unnamed {
		e := &s.Unnamed[i]
		b = appendBytes(b, e.ID)
		// The value, length-prefixed, written in place.
		b = binary.AppendUvarint(b, uint64(visitEntryValueLen(e)))
		b = appendVisitEntryValue(b, e)
	}
	return b
}

// visitEntryValueLen is the length appendVisitEntryValue appends.
func visitEntryValueLen(e *VisitEntry) int {
	var scratch [binary.MaxVarintLen64]byte
	n := len(binary.AppendVarint(scratch[:0], e.Unix)) + bytesLen(e.AnsweredByMemberID)
	if e.Listed != nil {
		n += bytesLen(e.Listed.AnsweredByName) + bytesLen(e.Listed.Officer) + len(e.Listed.VisitedAt)
	}
	return n
}

// bytesLen is the length appendBytes appends for s.
func bytesLen(s []byte) int {
	var scratch [binary.MaxVarintLen64]byte
	return len(binary.AppendUvarint(scratch[:0], uint64(len(s)))) + len(s)
}

// appendVisitEntryValue appends the by-household index value of a visit
// entry (see visitEntryKey; decodeVisitEntry reads it back).
func appendVisitEntryValue(b []byte, e *VisitEntry) []byte {
	b = binary.AppendVarint(b, e.Unix)
	b = appendBytes(b, e.AnsweredByMemberID)
	if e.Listed != nil {
		b = appendBytes(appendBytes(b, e.Listed.AnsweredByName), e.Listed.Officer)
		b = append(b, e.Listed.VisitedAt...)
	}
	return b
}

// visitSummaryReader decodes stored summaries into storage it reuses.
type visitSummaryReader struct {
	s      core.VisitSummary
	listed []core.ListedVisit
}

// decode reads a stored summary; the result is borrowed from v and from
// the reader, valid until the next call.
func (r *visitSummaryReader) decode(v []byte) (*core.VisitSummary, bool) {
	s := &r.s
	s.Groups, s.Unnamed = s.Groups[:0], s.Unnamed[:0]
	max, n := binary.Varint(v)
	if n <= 0 {
		return nil, false
	}
	s.MaxUnix, v = max, v[n:]
	groups, n := binary.Uvarint(v)
	if n <= 0 || groups > uint64(len(v)) {
		return nil, false
	}
	v = v[n:]
	for range groups {
		var g core.VisitGroup
		year, n := binary.Varint(v)
		if n <= 0 {
			return nil, false
		}
		g.Year, v = int(year), v[n:]
		member, n, ok := readBytes(v)
		if !ok {
			return nil, false
		}
		g.AnsweredByMemberID, v = member, v[n:]
		mask, n := binary.Uvarint(v)
		if n <= 0 || mask >= 1<<12 {
			return nil, false
		}
		v = v[n:]
		for m := range g.Months {
			if mask&(1<<m) == 0 {
				continue
			}
			c, n := binary.Uvarint(v)
			if n <= 0 || c > 1<<31-1 {
				return nil, false
			}
			g.Months[m], v = int32(c), v[n:]
		}
		last, n := binary.Varint(v)
		if n <= 0 {
			return nil, false
		}
		g.LastUnix, v = last, v[n:]
		id, n, ok := readBytes(v)
		if !ok {
			return nil, false
		}
		g.LastID, v = id, v[n:]
		s.Groups = append(s.Groups, g)
	}
	unnamed, n := binary.Uvarint(v)
	if n <= 0 || unnamed > uint64(len(v)) {
		return nil, false
	}
	v = v[n:]
	if len(r.listed) < int(unnamed) {
		r.listed = append(r.listed, make([]core.ListedVisit, int(unnamed)-len(r.listed))...)
	}
	s.Unnamed = slices.Grow(s.Unnamed, int(unnamed))
	for i := range int(unnamed) {
		id, n, ok := readBytes(v)
		if !ok {
			return nil, false
		}
		v = v[n:]
		value, n, ok := readBytes(v)
		if !ok {
			return nil, false
		}
		v = v[n:]
		e := VisitEntry{ID: id}
		if !decodeVisitEntry(value, &e, &r.listed[i]) {
			return nil, false
		}
		s.Unnamed = append(s.Unnamed, e)
	}
	return s, len(v) == 0
}

// ScanVisitSummaries calls fn for each household with live visits whose
// area code starts with areaPrefix, in area then household order, with
// its summary (see core.VisitSummaryTx). fn's arguments are borrowed from
// the transaction and reused between calls.
func (t *Tx) ScanVisitSummaries(areaPrefix string, fn func(area, household []byte, s *core.VisitSummary) error) error {
	if err := t.flushSummaries(); err != nil { // a write transaction reading its own writes
		return err
	}
	b := t.tx.Bucket(bucketVisitSummaries)
	if b == nil {
		return fmt.Errorf("visit summaries: the store has none (open it writable once, or run ruhu rebuild-summaries)")
	}
	// As ScanVisitsByHousehold: the pages read leave the resident set at
	// the end.
	defer t.releaseMapped()
	var r visitSummaryReader
	prefix := []byte(areaPrefix)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		end := bytes.IndexByte(k, 0)
		if end < 0 {
			return fmt.Errorf("visit summaries: malformed key %q", k)
		}
		hh, n, ok := readBytes(k[end+1:])
		if !ok || end+1+n != len(k) {
			return fmt.Errorf("visit summaries: malformed key %q", k)
		}
		s, ok := r.decode(v)
		if !ok {
			return fmt.Errorf("visit summaries: malformed summary of %q", k)
		}
		if err := fn(k[:end], hh, s); err != nil {
			return err
		}
	}
	return nil
}

// HouseholdVisits calls fn once with the by-household index entries of
// one household in one area (not at all when it has none), as
// ScanVisitsByHousehold shows them.
func (t *Tx) HouseholdVisits(area, household []byte, fn func(visits []VisitEntry) error) error {
	key := append(append([]byte(nil), area...), 0)
	key = appendBytes(key, household)
	return t.scanVisitIndex(key, func(_, _ []byte, visits []VisitEntry) error { return fn(visits) })
}

var _ core.VisitSummaryTx = (*Tx)(nil)

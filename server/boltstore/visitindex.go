package boltstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/server/core"
)

// Two indexes of visits beside the report projection, kept by PutRecord
// in the same transaction as the visit and rebuilt with the projection
// (RebuildReportRows):
//
//   - visits by household: one small entry per live visit with a
//     household and a readable visited_at, keyed by the visit's area, its
//     household and its id, holding the visit time and who answered. The
//     compliance report counts a county's million visits per household
//     from these (ScanVisitsByHousehold): a household's visits are
//     adjacent, so counting them needs no lookup per visit, and an entry
//     is a third of a report row.
//   - visits with photos: for each live visit citing photos, the fields
//     the photo checks read, keyed by area and id (ScanVisitPhotos). The
//     photo checks then read only the visits that cite photos, not every
//     visit record of the area.
//
// Both hold stored facts only: no rule or policy figure.
var (
	bucketVisitsByHousehold = []byte("visitsbyhh")  // area 0x00 uvarint len(household) household id -> varint unix, answered_by_member_id
	bucketVisitPhotos       = []byte("visitphotos") // area 0x00 id -> row of visitPhotoFields
)

// visitPhotoFields are the fields ScanVisitPhotos shows, in order.
var visitPhotoFields = []ReportField{{Name: "household_id"}, {Name: "visited_at"}, {Name: "gps"}, {Name: "photo_sha256s"}}

// VisitPhotoFields returns the names of the fields ScanVisitPhotos shows,
// in the order it shows them.
func VisitPhotoFields() []string {
	names := make([]string, len(visitPhotoFields))
	for i, f := range visitPhotoFields {
		names[i] = f.Name
	}
	return names
}

// VisitEntry is core.VisitEntry: one visit as the by-household index
// keeps it.
type VisitEntry = core.VisitEntry

// jsonText reads a JSON string value; false when raw is not a string.
func jsonText(raw []byte) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && !slices.Contains(raw, '\\') {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// visitEntryKey returns the by-household key and value of a visit with
// the given area, id and field values; nil when the visit has no
// household or no readable visited_at (the report leaves such visits
// out). The value is the visit's Unix second, then answered_by_member_id
// (length-prefixed, empty when absent), then for a visit without a
// member id (core.ListedVisit) answered_by_name and officer
// (length-prefixed) and visited_at.
func visitEntryKey(area string, id []byte, f *visitFields) (key, value []byte) {
	visitedAt, household, answeredBy := f.visitedAt, f.household, f.answeredBy
	hh, _ := jsonText(household)
	at, ok := jsonText(visitedAt)
	if hh == "" || !ok {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return nil, nil
	}
	key = make([]byte, 0, len(area)+len(hh)+len(id)+4)
	key = append(append(key, area...), 0)
	key = binary.AppendUvarint(key, uint64(len(hh)))
	key = append(append(key, hh...), id...)
	value = binary.AppendVarint(make([]byte, 0, 16+len(answeredBy)), t.Unix())
	value = appendBytes(value, answeredBy)
	if member, _ := jsonText(answeredBy); member == "" {
		value = appendBytes(appendBytes(value, f.answeredByName), f.officer)
		value = append(value, visitedAt...)
	}
	return key, value
}

// appendBytes appends a length-prefixed byte string.
func appendBytes(b, s []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decodeVisitEntry reads the value of a by-household entry into e.
func decodeVisitEntry(v []byte, e *VisitEntry, listed *core.ListedVisit) bool {
	unix, n := binary.Varint(v)
	if n <= 0 {
		return false
	}
	e.Unix, v = unix, v[n:]
	member, n, ok := readBytes(v)
	if !ok {
		return false
	}
	e.AnsweredByMemberID, v = nilIfEmpty(member), v[n:]
	e.Listed = nil
	if len(v) == 0 {
		return true
	}
	name, n, ok := readBytes(v)
	if !ok {
		return false
	}
	v = v[n:]
	officer, n, ok := readBytes(v)
	if !ok {
		return false
	}
	*listed = core.ListedVisit{VisitedAt: v[n:], Officer: nilIfEmpty(officer), AnsweredByName: nilIfEmpty(name)}
	e.Listed = listed
	return true
}

// nilIfEmpty returns nil for an empty slice: an absent field.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// citesPhotos reports whether a photo_sha256s value may name a photo:
// present and not null or empty. The photo checks read the value itself.
func citesPhotos(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null")) && !bytes.Equal(bytes.ReplaceAll(raw, []byte(" "), nil), []byte("[]"))
}

// visitFields are the fields of a visit the indexes read.
type visitFields struct {
	visitedAt, household, answeredBy, answeredByName, officer, gps, photos []byte
}

// indexVisit moves a visit's entries in both indexes from what its old
// report row says (nil when it had none) to its new state: area and
// fields, or gone when live is false. Called before the report row
// changes, since old is borrowed from it.
func (t *Tx) indexVisit(id []byte, old []byte, area string, f visitFields, live bool) error {
	byHousehold := t.tx.Bucket(bucketVisitsByHousehold)
	photos := t.tx.Bucket(bucketVisitPhotos)
	if byHousehold == nil || photos == nil {
		return nil // a file opened before the indexes existed; Open rebuilds them
	}
	var oldKey, oldPhotoKey []byte
	if old != nil {
		spec := core.ReportFields(collection.Visits)
		views := make([]FieldView, len(spec))
		oldArea, ok := decodeReportRow(old, spec, views)
		if !ok {
			return fmt.Errorf("visit index: malformed report row of visits/%s", id)
		}
		var ov visitFields
		for i, s := range spec {
			switch s.Name {
			case "visited_at":
				ov.visitedAt = views[i].Value
			case "household_id":
				ov.household = views[i].Value
			}
		}
		oldKey, _ = visitEntryKey(string(oldArea), id, &ov)
		oldPhotoKey = append(append(append([]byte(nil), oldArea...), 0), id...)
	}
	var newKey, newValue []byte
	if live {
		newKey, newValue = visitEntryKey(area, id, &f)
	}
	// The households whose entries changed (summaries.go): an entry
	// removed or moved away, one changed in place, and one added.
	var removedFrom []byte
	if oldKey != nil && !bytes.Equal(oldKey, newKey) {
		if err := byHousehold.Delete(oldKey); err != nil {
			return err
		}
		removedFrom = householdKeyOf(oldKey, id)
		if err := t.summaryDue(removedFrom, nil); err != nil {
			return err
		}
	}
	if newKey != nil {
		prev := byHousehold.Get(newKey)
		if !bytes.Equal(prev, newValue) {
			if err := byHousehold.Put(newKey, newValue); err != nil {
				return err
			}
			var added *addedEntry
			if prev == nil {
				added = &addedEntry{id: bytes.Clone(id), value: newValue}
			}
			if err := t.summaryDue(householdKeyOf(newKey, id), added); err != nil {
				return err
			}
		}
	}
	if oldPhotoKey != nil {
		if err := photos.Delete(oldPhotoKey); err != nil {
			return err
		}
	}
	if live && citesPhotos(f.photos) {
		views := []FieldView{{Value: f.household}, {Value: f.visitedAt}, {Value: f.gps}, {Value: f.photos}}
		row, err := t.encodeReportRow(nil, area, visitPhotoFields, views)
		if err != nil {
			return err
		}
		// Keys are area then visit id, and tablets make ids time-ordered:
		// within an area they mostly grow, so pages are packed fuller than
		// bbolt's half (as for the records bucket; at half, this index
		// was a sixth of what a push of visits wrote).
		photos.FillPercent = 0.9
		if err := photos.Put(append(append([]byte(area), 0), id...), row); err != nil {
			return err
		}
	}
	return nil
}

// ScanVisitsByHousehold calls fn for each household with live visits
// whose area code starts with areaPrefix, with the visits' area, the
// household id and its visits in id order (visits of one household in
// two areas come in two calls, in area order). Only visits with a household and a
// readable visited_at are indexed. fn's arguments are borrowed from the
// transaction and reused between calls.
func (t *Tx) ScanVisitsByHousehold(areaPrefix string, fn func(area, household []byte, visits []VisitEntry) error) error {
	b := t.tx.Bucket(bucketVisitsByHousehold)
	if b == nil {
		return fmt.Errorf("visit index: the store has none (open it writable once to build it)")
	}
	// The pages read leave the resident set at the end (see
	// releaseMapped): a county's entries are some 60 MB, and released
	// during the scan the tree's inner pages would be read back again.
	defer t.releaseMapped()
	return t.scanVisitIndex([]byte(areaPrefix), fn)
}

// scanVisitIndex is ScanVisitsByHousehold over the keys starting with
// prefix (an area prefix, or a whole area and household), without
// releasing the pages it read.
func (t *Tx) scanVisitIndex(prefix []byte, fn func(area, household []byte, visits []VisitEntry) error) error {
	b := t.tx.Bucket(bucketVisitsByHousehold)
	if b == nil {
		return fmt.Errorf("visit index: the store has none (open it writable once to build it)")
	}
	var area, household []byte
	var visits []VisitEntry
	var listed []core.ListedVisit // visits[i].Listed points at listed[i] when set
	flush := func() error {
		if len(visits) == 0 {
			return nil
		}
		for i := range visits { // listed has settled: point into it
			if visits[i].Listed != nil {
				visits[i].Listed = &listed[i]
			}
		}
		err := fn(area, household, visits)
		visits = visits[:0]
		return err
	}
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		end := bytes.IndexByte(k, 0)
		if end < 0 {
			return fmt.Errorf("visit index: malformed key %q", k)
		}
		a := k[:end]
		hh, n, ok := readBytes(k[end+1:])
		if !ok {
			return fmt.Errorf("visit index: malformed key %q", k)
		}
		id := k[end+1+n:]
		if !bytes.Equal(a, area) || !bytes.Equal(hh, household) {
			if err := flush(); err != nil {
				return err
			}
			area, household = a, hh
		}
		if len(visits) == len(listed) {
			listed = append(listed, core.ListedVisit{})
		}
		e := VisitEntry{ID: id}
		if !decodeVisitEntry(v, &e, &listed[len(visits)]) {
			return fmt.Errorf("visit index: malformed entry %q", k)
		}
		visits = append(visits, e)
	}
	return flush()
}

// ScanVisitPhotos calls fn for every live visit whose area code starts
// with areaPrefix and that may cite photos (photo_sha256s present and not
// empty), in area then id order, with the fields VisitPhotoFields names
// (reused between calls, borrowed from the transaction).
func (t *Tx) ScanVisitPhotos(areaPrefix string, fn func(id, area string, fields []FieldView) error) error {
	b := t.tx.Bucket(bucketVisitPhotos)
	if b == nil {
		return fmt.Errorf("visit photos: the store has no index (open it writable once to build it)")
	}
	views := make([]FieldView, len(visitPhotoFields))
	prefix := []byte(areaPrefix)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		end := bytes.IndexByte(k, 0)
		area, ok := decodeReportRow(v, visitPhotoFields, views)
		if end < 0 || !ok {
			return fmt.Errorf("visit photos: malformed entry %q", k)
		}
		if err := fn(string(k[end+1:]), string(area), views); err != nil {
			return err
		}
	}
	return nil
}

// ReportRow reads the report row of one record: its area and the fields
// named in want (fields[i] is want[i], borrowed from the transaction);
// ok is false when the record has no row (absent or deleted). It fails
// as ScanReportRows does for a collection or field not projected.
func (t *Tx) ReportRow(collection, id string, want []string) (area string, fields []FieldView, ok bool, err error) {
	spec := core.ReportFields(collection)
	if spec == nil {
		return "", nil, false, fmt.Errorf("report rows: collection %s is not projected", collection)
	}
	rows := t.tx.Bucket(bucketReportRows)
	if rows == nil {
		return "", nil, false, fmt.Errorf("report rows: the store has no projection (open it writable once to build it)")
	}
	row := rows.Get(recordKey(collection, id))
	if row == nil {
		return "", nil, false, nil
	}
	views := make([]FieldView, len(spec))
	a, good := decodeReportRow(row, spec, views)
	if !good {
		return "", nil, false, fmt.Errorf("report rows: malformed row %s/%s", collection, id)
	}
	fields = make([]FieldView, len(want))
	for i, name := range want {
		j := slices.IndexFunc(spec, func(f ReportField) bool { return f.Name == name })
		if j < 0 {
			return "", nil, false, fmt.Errorf("report rows: %s.%s is not projected", collection, name)
		}
		fields[i] = views[j]
	}
	return string(a), fields, true, nil
}

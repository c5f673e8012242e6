package core

import (
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// FieldView is one field of a stored record as a scan shows it. Its byte
// slices may be borrowed from the transaction: valid only inside the
// callback, so copy what you keep.
type FieldView struct {
	// Value is the field's JSON value; nil when the record lacks the field.
	Value  []byte
	HLC    syncengine.HLC
	Author []byte
	OpID   []byte
	// Received is when the server received the op that wrote this
	// version (millisecond precision; the version's HLC time when that op
	// is missing from history). Only ScanReportRows sets it, for the
	// fields whose report projection asks for it; zero otherwise.
	Received time.Time
}

// ScanTx is the part of a transaction that reads records of an area in
// bulk, for reports, the evidence checks and the web console.
type ScanTx interface {
	// ForEachRecordIn calls fn for every record of a collection whose
	// area code starts with areaPrefix ("" means every area), in id order,
	// until fn returns an error, which it returns.
	ForEachRecordIn(collection, areaPrefix string, fn func(*syncengine.Record) error) error
	// ScanRecordsIn calls fn for every record of a collection whose area
	// code starts with areaPrefix and that is not deleted, in id order,
	// with the fields named in want: fields[i] is want[i]. fields is
	// reused between calls. fn's error stops the scan and is returned.
	ScanRecordsIn(collection, areaPrefix string, want []string, fn func(id, area string, fields []FieldView) error) error
	// ScanReportRows is ScanRecordsIn over the fields the compliance
	// report reads: FieldView.OpID is nil, and a field's HLC, Author and
	// Received are set only when the report projection keeps them. It
	// fails when the collection or a field of want is not projected.
	ScanReportRows(collection, areaPrefix string, want []string, fn func(id, area string, fields []FieldView) error) error
	// CountReportRows returns how many records ScanReportRows would show
	// for a collection and area prefix.
	CountReportRows(collection, areaPrefix string) (int, error)
	// OpReceivedAt returns when the server accepted an op (millisecond
	// precision); ok is false when no op has that id.
	OpReceivedAt(opID string) (at time.Time, ok bool, err error)
}

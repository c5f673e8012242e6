package core

// VisitEntry is one visit as a store's by-household visit index keeps it
// (VisitIndexTx.ScanVisitsByHousehold).
type VisitEntry struct {
	ID []byte
	// Unix is visited_at in Unix seconds, read as RFC 3339.
	Unix int64
	// AnsweredByMemberID is the stored JSON value of
	// answered_by_member_id; nil when the visit has none.
	AnsweredByMemberID []byte
	// Listed is set for a visit without a member id (answered by a name
	// or by no one): the report lists such a visit when it falls in its
	// period, with these stored JSON values.
	Listed *ListedVisit
}

// ListedVisit holds the stored JSON values of a visit the report lists
// beside its time and answerer: visited_at as written (for its offset),
// officer and answered_by_name (nil when absent).
type ListedVisit struct {
	VisitedAt, Officer, AnsweredByName []byte
}

// VisitIndexTx is the part of a transaction that reads visit indexes a
// store keeps beside its records, in the same transaction as each write.
// It is optional: readers use it when a store's transaction has it and
// otherwise read the same facts with ScanTx.
type VisitIndexTx interface {
	// ScanVisitsByHousehold calls fn for each household with live visits
	// whose area code starts with areaPrefix, with the visits' area, the
	// household id and its visits in id order; visits of one household
	// in two areas come in two calls. Only visits with a household and an
	// RFC 3339 visited_at are shown. The arguments are borrowed: valid
	// only inside the call.
	ScanVisitsByHousehold(areaPrefix string, fn func(area, household []byte, visits []VisitEntry) error) error
	// ScanVisitPhotos calls fn for every live visit whose area code
	// starts with areaPrefix and whose photo_sha256s may name a photo
	// (present, not null, not empty), with household_id, visited_at, gps
	// and photo_sha256s, in that order.
	ScanVisitPhotos(areaPrefix string, fn func(id, area string, fields []FieldView) error) error
	// ReportRow reads one record's fields as ScanReportRows shows them;
	// ok is false when the record is absent or deleted.
	ReportRow(collection, id string, want []string) (area string, fields []FieldView, ok bool, err error)
}

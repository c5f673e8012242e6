package core

import "github.com/ruhu-dev/ruhu/collection"

// ReportField is a field the projection keeps, and which parts of its
// version besides the value.
type ReportField struct {
	Name string
	// HLC keeps the stamp of the field's version.
	HLC bool
	// Author keeps the user who wrote the version.
	Author bool
	// Received keeps when the server received the op that wrote the
	// version (see FieldView.Received).
	Received bool
}

// reportFields are the projected collections and their fields: what
// server.ReadReportInputWith reads. A field not listed here cannot be read
// through ScanReportRows. A store that keeps the projection in its own
// layout must change that layout's version with this list.
var reportFields = map[string][]ReportField{
	collection.Villages:     {{Name: "code"}, {Name: "name"}, {Name: "center"}, {Name: "geofence_m"}},
	collection.Households:   {{Name: "head_name"}, {Name: "status", HLC: true}},
	collection.Members:      {{Name: "household_id"}, {Name: "name"}},
	collection.Assignments:  {{Name: "officer"}, {Name: "household_id"}, {Name: "active"}},
	collection.Visits:       {{Name: "visited_at"}, {Name: "household_id"}, {Name: "officer"}, {Name: "answered_by_member_id"}, {Name: "answered_by_name"}},
	collection.Checkins:     {{Name: "at", Received: true}, {Name: "member"}, {Name: "village_code"}, {Name: "gps"}},
	collection.Teams:        {{Name: "village_code"}, {Name: "first_secretary"}, {Name: "members"}},
	collection.DutyDays:     {{Name: "date"}, {Name: "member"}, {Name: "kind"}, {Name: "approved_by", Author: true}},
	collection.Photos:       {{Name: "captured_at"}, {Name: "stage"}, {Name: "case_id"}, {Name: "blob_sha256"}, {Name: "gps"}},
	collection.Signatures:   {{Name: "signed_collection"}, {Name: "signed_record_id"}, {Name: "signer_role"}, {Name: "purpose"}},
	collection.HousingCases: {{Name: "household_id"}, {Name: "grade"}, {Name: "photo_sha256s"}},
}

// ReportFields returns the fields the report projection keeps for a
// collection (what Tx.ScanReportRows shows); nil when it does not project
// the collection.
func ReportFields(collection string) []ReportField {
	return reportFields[collection]
}

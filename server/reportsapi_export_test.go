package server

// ReadReportInputFromRecords exposes the straightforward reading of the
// records to the black-box tests that hold the projection's reading equal
// to it.
var ReadReportInputFromRecords = readReportInputFromRecords

// ReadReportInputFor exposes the period's reading of the report input,
// with visits tallied, to the tests that hold its reports equal to those
// of the straightforward reading.
var ReadReportInputFor = readReportInputFor

package server

// ReadReportInputFromRecords exposes the straightforward reading of the
// records to the black-box tests that hold the projection's reading equal
// to it.
var ReadReportInputFromRecords = readReportInputFromRecords

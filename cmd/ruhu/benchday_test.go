package main

import (
	"context"
	"io"
	"testing"
	"time"
)

// TestBenchDayTinyDay runs `ruhu bench day`'s code on a tiny day (one
// visit, two small photos, one signature) over a fast link that still cuts
// every 16–64 KiB: the records and every evidence file must reach the
// server through the real client, and the figures must be consistent.
func TestBenchDayTinyDay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and a tablet")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := benchDay(ctx, dayOptions{Dir: t.TempDir(), Visits: 1, Photos: 2, Signatures: 1,
		PhotoWidth: 2400, PhotoHeight: 1800, BitsPerSecond: 8_000_000, Seed: 3}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Records != 4 || res.EvidenceFiles != 3 {
		t.Errorf("records %d and files %d, want 4 (1 visit, 2 photos, 1 signature) and 3 (2 evidence copies, 1 signature image)", res.Records, res.EvidenceFiles)
	}
	if res.OriginalBytes <= res.EvidenceBytes {
		t.Errorf("originals %d bytes, evidence %d: the evidence copies must be smaller", res.OriginalBytes, res.EvidenceBytes)
	}
	if res.BytesSent < res.BytesNeeded || res.DayBytesRatio < 1 {
		t.Errorf("sent %d < needed %d (ratio %.3f): the link carried less than the payload", res.BytesSent, res.BytesNeeded, res.DayBytesRatio)
	}
	if res.Cuts == 0 {
		t.Errorf("the link never cut a connection over %d bytes", res.BytesSent)
	}
	if res.DayRecordsS <= 0 || res.DayEvidenceMin*60 < res.DayRecordsS {
		t.Errorf("records after %.2f s, evidence after %.3f min: evidence cannot be done before the records", res.DayRecordsS, res.DayEvidenceMin)
	}
}

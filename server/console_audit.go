package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"maps"
	"slices"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/console"
	"github.com/ruhu-dev/ruhu/server/core"
)

// ExportReport is Report for the console's download: the file is made in
// memory, recorded in the audit log (core.RecordExport) and only then
// written to w, so no report leaves unrecorded.
func (b *consoleBackend) ExportReport(ctx context.Context, u console.User, area string, period rules.Period, format, list string, w io.Writer) (string, error) {
	var buf bytes.Buffer
	name, err := b.Report(ctx, u, area, period, format, list, &buf)
	if err != nil {
		return "", err
	}
	e := core.Export{What: "compliance_report", Area: area, Format: format, Period: period.Label, File: name, Via: "console", Body: buf.Bytes()}
	if format == "csv" {
		e.List = list
	}
	if err := b.s.core.RecordExport(ctx, callerFor(u), e); err != nil {
		return "", err
	}
	_, err = w.Write(buf.Bytes())
	return name, err
}

// RecordExport records a console download other than the compliance
// report (the rectification ledger) as an export (core.RecordExport).
func (b *consoleBackend) RecordExport(ctx context.Context, u console.User, what, area, format, file string, body []byte) error {
	return b.s.core.RecordExport(ctx, callerFor(u), core.Export{What: what, Area: area, Format: format, File: file, Via: "console", Body: body})
}

// AuditTrail is one page of an area's audit trail (core.AuditTrail, which
// checks role and scope) with a check of the whole chain
// (core.VerifyAuditChain).
func (b *consoleBackend) AuditTrail(ctx context.Context, u console.User, area string, before uint64) (*console.AuditPage, error) {
	const pageSize = 50
	caller := callerFor(u)
	// One more than shown tells whether an older page exists.
	entries, err := b.s.core.AuditTrail(ctx, caller, area, before, pageSize+1)
	if err != nil {
		return nil, err
	}
	chain, err := b.s.core.VerifyAuditChain(ctx, caller)
	if err != nil {
		return nil, err
	}
	out := &console.AuditPage{Entries: []console.AuditEntry{}}
	if len(entries) > pageSize {
		entries = entries[:pageSize]
		out.NextBefore = entries[pageSize-1].Seq
	}
	for _, e := range entries {
		ce := console.AuditEntry{Seq: e.Seq, Time: e.Time, Kind: string(e.Kind), Actor: e.Actor, Device: e.Device,
			Area: e.Area, Hash: hex.EncodeToString(e.Hash)}
		for _, k := range slices.Sorted(maps.Keys(e.Detail)) {
			ce.Detail = append(ce.Detail, console.AuditDetail{Key: k, Value: e.Detail[k]})
		}
		out.Entries = append(out.Entries, ce)
	}
	out.Chain = console.AuditChain{Kept: chain.Kept, Entries: chain.Head.Seq, Head: hex.EncodeToString(chain.Head.Hash)}
	if chain.Broken != nil {
		out.Chain.BrokenAt, out.Chain.Reason = chain.Broken.Seq, chain.Broken.Reason
	} else {
		out.Chain.Verified = chain.Kept
	}
	return out, nil
}

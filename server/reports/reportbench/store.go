package reportbench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/reports"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Approver is the county user WriteStore enrols to approve the generated
// duty days, so that they count in the store as they do in memory.
const Approver = "county"

// opsPerTx is how many ops WriteStore applies per write transaction: big
// enough that commits do not dominate, small enough that a transaction's
// dirty pages stay a few megabytes.
const opsPerTx = 5000

// WriteStore writes a generated input into a store as the records a server
// would hold after the tablets pushed them: one op per record, applied by
// syncengine.Apply, received at receivedAt unless the input says otherwise
// (a check-in's ReceivedAt). Housing cases are written without photos or
// signatures, so the evidence checker finds every one incomplete. The
// duty days' approver is enrolled as a county user scoped to the county.
//
// Ops are made and applied a transaction at a time, so a county's 1.4
// million ops never sit in memory together.
func WriteStore(store *boltstore.Store, in *rules.Input, receivedAt time.Time) error {
	w := storeWriter{store: store, received: receivedAt, area: make(map[string]string, len(in.Households))}
	err := store.UpdateSolo(func(tx *boltstore.Tx) error {
		return tx.PutUser(&boltstore.User{Username: Approver, Role: auth.RoleCounty, Scopes: []string{CountyCode}, CreatedAt: receivedAt})
	})
	if err != nil {
		return fmt.Errorf("write approver: %w", err)
	}
	for _, v := range in.Villages {
		w.add(collection.Villages, "v"+v.Code, v.Code, "bench", receivedAt, map[string]any{"code": v.Code, "name": v.Name,
			"center": map[string]any{"lat": v.Lat, "lon": v.Lon}})
	}
	for _, h := range in.Households {
		w.area[h.ID] = h.Area
		w.add(collection.Households, h.ID, h.Area, "bench", receivedAt, map[string]any{"head_name": h.HeadName,
			"status": map[string]any{"value": h.Status, "year": h.StatusYear}})
		for _, m := range h.Members {
			w.add(collection.Members, m.ID, h.Area, "bench", receivedAt, map[string]any{"household_id": h.ID, "name": m.Name})
		}
	}
	for i, a := range in.Assignments {
		w.add(collection.Assignments, "a"+strconv.Itoa(i), w.area[a.HouseholdID], "bench", receivedAt,
			map[string]any{"officer": a.Officer, "household_id": a.HouseholdID, "active": a.Active})
	}
	for _, v := range in.Visits {
		set := map[string]any{"household_id": v.HouseholdID, "officer": v.Officer, "visited_at": v.At.Format(time.RFC3339)}
		if v.AnsweredByMemberID != "" {
			set["answered_by_member_id"] = v.AnsweredByMemberID
		}
		if v.AnsweredByName != "" {
			set["answered_by_name"] = v.AnsweredByName
		}
		w.add(collection.Visits, v.ID, w.area[v.HouseholdID], v.Officer, receivedAt, set)
	}
	for _, c := range in.Checkins {
		w.add(collection.Checkins, c.ID, c.VillageCode, c.Member, c.ReceivedAt, map[string]any{"member": c.Member,
			"village_code": c.VillageCode, "at": c.At.Format(time.RFC3339),
			"gps": map[string]any{"lat": c.Lat, "lon": c.Lon, "accuracy_m": c.AccuracyM}})
	}
	for _, t := range in.Teams {
		w.add(collection.Teams, "t"+t.VillageCode, t.VillageCode, "bench", receivedAt, map[string]any{"village_code": t.VillageCode,
			"members": t.Members, "first_secretary": t.FirstSecretary})
	}
	villageOf := map[string]string{}
	for _, t := range in.Teams {
		for _, m := range t.Members {
			villageOf[m] = t.VillageCode
		}
	}
	for i, d := range in.DutyDays {
		set := map[string]any{"member": d.Member, "date": d.Date.String(), "kind": d.Kind}
		author := d.Member
		if d.ApprovedBy != "" {
			set["approved_by"] = Approver
			author = Approver
		}
		w.add(collection.DutyDays, "d"+strconv.Itoa(i), villageOf[d.Member], author, receivedAt, set)
	}
	for _, c := range in.HousingCases {
		w.add(collection.HousingCases, c.ID, c.Area, "bench", receivedAt, map[string]any{"household_id": c.HouseholdID, "grade": c.Grade})
	}
	return w.flush()
}

// storeWriter gathers ops for WriteStore and applies them a transaction
// at a time.
type storeWriter struct {
	store    *boltstore.Store
	received time.Time
	area     map[string]string
	ops      []*syncengine.Op
	n        int
	err      error
}

func (w *storeWriter) add(col, id, area, author string, received time.Time, set map[string]any) {
	if w.err != nil {
		return
	}
	raw := make(map[string]json.RawMessage, len(set))
	for k, v := range set {
		b, err := json.Marshal(v)
		if err != nil {
			w.err = fmt.Errorf("%s/%s field %s: %w", col, id, k, err)
			return
		}
		raw[k] = b
	}
	w.n++
	w.ops = append(w.ops, &syncengine.Op{ID: "b" + strconv.Itoa(w.n), RecordID: id, Collection: col, Area: area,
		Author: author, Device: "bench", HLC: syncengine.MakeHLC(w.received.UnixMilli()-int64(1e9)+int64(w.n), 0),
		Set: raw, ReceivedAt: received})
	if len(w.ops) >= opsPerTx {
		w.err = w.flush()
	}
}

func (w *storeWriter) flush() error {
	if w.err != nil || len(w.ops) == 0 {
		return w.err
	}
	err := w.store.UpdateSolo(func(tx *boltstore.Tx) error {
		for _, op := range w.ops {
			if _, err := syncengine.Apply(tx, op, syncengine.MergePolicy{}, w.received); err != nil {
				return fmt.Errorf("apply %s to %s/%s: %w", op.ID, op.Collection, op.RecordID, err)
			}
		}
		return nil
	})
	clear(w.ops)
	w.ops = w.ops[:0]
	if err != nil {
		return fmt.Errorf("write store: %w", err)
	}
	return nil
}

// fromStore measures the report endpoint's work on the county with its
// records in a store: it writes in into a bbolt file in a temporary
// folder, lets go of in and everything the writing used, resets the
// process's peak RSS (Linux: /proc/self/clear_refs), reopens the file and
// times server.ComplianceReportWith plus the JSON answer, as
// GET /v1/reports/compliance does them. The page cache is warm (the file
// was just written): the figure is a server's, not a cold disk's.
// report_from_store_peak_rss_mb is left out when the peak cannot be reset,
// since it would then be the writing's.
func fromStore(ctx context.Context, in *rules.Input, policies *rules.PolicySet, period rules.Period, out map[string]float64) error {
	dir, err := os.MkdirTemp("", "ruhu-bench-report-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ruhu.db")
	asOf := period.End
	store, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		return err
	}
	err = WriteStore(store, in, asOf)
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	in = nil
	runtime.GC()
	debug.FreeOSMemory()
	if err := ctx.Err(); err != nil {
		return err
	}
	rssReset := resetPeakRSS()
	store, err = boltstore.Open(path, boltstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	cpu0, cpuOK := processCPU()
	start := time.Now()
	r, err := server.ComplianceReportWith(store.Core(), policies, server.EvidencePolicy{}, CountyCode, period, asOf)
	if err != nil {
		return err
	}
	if err := reports.WriteJSON(io.Discard, r); err != nil {
		return err
	}
	out["report_from_store_s"] = time.Since(start).Seconds()
	if cpu1, ok := processCPU(); ok && cpuOK {
		out["report_from_store_cpu_s"] = (cpu1 - cpu0).Seconds()
	}
	if rss, ok := peakRSSMB(); ok && rssReset {
		out["report_from_store_peak_rss_mb"] = rss
	}
	out["report_from_store_findings"] = float64(r.Summary.Total)
	return endpoint(ctx, store, policies, period, out)
}

// endpoint times GET /v1/reports/compliance as a county user asks it of
// a server over the same store: ComplianceReportWith, then what the
// endpoint adds (the photo findings of GET /v1/findings, overdue ledger
// items, exit cases with unmet standards: server.addComplianceExtra) and
// the JSON answer. report_endpoint_s minus report_from_store_s (and the
// same for their _cpu_s) is the added findings' cost.
func endpoint(ctx context.Context, store *boltstore.Store, policies *rules.PolicySet, period rules.Period, out map[string]float64) error {
	reg, err := schemas.New()
	if err != nil {
		return err
	}
	srv := server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), server.Config{Policies: policies, Now: func() time.Time { return period.End }},
		store.Core(), reg)
	const user, password = "bench-county", "bench-county-2026"
	if _, err := srv.Core().AddUser(ctx, core.Operator(), core.UserInput{Username: user, Password: password, Role: auth.RoleCounty,
		Scopes: []string{CountyCode}}); err != nil {
		return err
	}
	sess, err := srv.Core().Login(ctx, user, password)
	if err != nil {
		return err
	}
	req := httptest.NewRequest("GET", "/v1/reports/compliance?area="+CountyCode+"&period="+period.Label, nil)
	req.Header.Set("Authorization", "Bearer "+sess.AccessToken)
	cpu0, cpuOK := processCPU()
	start := time.Now()
	resp, err := srv.App().Test(req, -1)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("report endpoint: %s", resp.Status)
	}
	out["report_endpoint_s"] = time.Since(start).Seconds()
	if cpu1, ok := processCPU(); ok && cpuOK {
		out["report_endpoint_cpu_s"] = (cpu1 - cpu0).Seconds()
	}
	return nil
}

// resetPeakRSS resets the process's peak resident set (VmHWM) to its
// current resident set; false where that is not possible.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

package server

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/ruhu-dev/ruhu/assets"
	"github.com/ruhu-dev/ruhu/assets/findings"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/console"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/reports"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// mountConsole serves the web console (package console) for every path
// outside the API: the routes of the route table were added first and
// answer their own paths; /v1, /healthz and /metrics never reach the
// console, so an unknown API path still gets the JSON 404.
func (s *Server) mountConsole() {
	c, err := console.New(s.log, &consoleBackend{s: s, cache: newReportCache()}, console.Options{Now: s.cfg.Now})
	if err != nil {
		s.log.Error("web console disabled", "err", err)
		return
	}
	h := adaptor.HTTPHandler(c)
	s.app.Use(func(fc *fiber.Ctx) error {
		p := fc.Path()
		if p == "/v1" || strings.HasPrefix(p, "/v1/") || p == "/healthz" || p == "/metrics" {
			return fc.Next()
		}
		return h(fc)
	})
}

// consoleBackend implements console.Backend over the core (accounts,
// records, conflicts) and the server's read models (reports, evidence,
// findings), with the API's role and scope checks.
type consoleBackend struct {
	s *Server
	// cache keeps reports and photo-finding counts while the store does
	// not change (see reportCache).
	cache *reportCache
}

var _ console.Backend = (*consoleBackend)(nil)

func consoleUser(u *core.User) console.User {
	return console.User{Username: u.Username, DisplayName: u.DisplayName, Role: u.Role, Scopes: slices.Clone(u.Scopes)}
}

func callerFor(u console.User) core.Caller {
	return core.Caller{User: u.Username, Role: u.Role, Scopes: u.Scopes}
}

// Login is the API's login (core.Login), counted in the same metric.
func (b *consoleBackend) Login(ctx context.Context, username, password string) (console.User, error) {
	ss, err := b.s.core.Login(ctx, username, password)
	switch syncengine.ErrorCode(err) {
	case "":
		b.s.metrics.logins.WithLabelValues("ok").Inc()
	case syncengine.EUNAUTHORIZED:
		b.s.metrics.logins.WithLabelValues("fail").Inc()
		return console.User{}, err
	default:
		return console.User{}, err
	}
	return consoleUser(ss.User), nil
}

func (b *consoleBackend) User(ctx context.Context, username string) (console.User, error) {
	var u *core.User
	if err := view(b.s.store, func(tx Tx) (err error) { u, err = tx.User(username); return err }); err != nil {
		return console.User{}, storeErr("read user", err)
	}
	if u == nil || u.Disabled {
		return console.User{}, syncengine.Errorf(syncengine.EUNAUTHORIZED, "account is gone or disabled")
	}
	return console.User{Username: u.Username, DisplayName: u.DisplayName, Role: u.Role, Scopes: slices.Clone(u.Scopes)}, nil
}

// SaveSession stores a session and drops the expired ones.
func (b *consoleBackend) SaveSession(ctx context.Context, cs console.Session) error {
	now := b.s.cfg.Now()
	err := updateSolo(b.s.store, func(tx Tx) error {
		if _, err := tx.DeleteExpiredWebSessions(now); err != nil {
			return err
		}
		return tx.PutWebSession(&core.WebSession{Key: cs.Key, Username: cs.Username, CSRF: cs.CSRF,
			CreatedAt: cs.CreatedAt, ExpiresAt: cs.ExpiresAt})
	})
	return storeErr("save web session", err)
}

func (b *consoleBackend) Session(ctx context.Context, key string) (*console.Session, error) {
	var ws *core.WebSession
	if err := view(b.s.store, func(tx Tx) (err error) { ws, err = tx.WebSession(key); return err }); err != nil {
		return nil, storeErr("read web session", err)
	}
	if ws == nil {
		return nil, nil
	}
	return &console.Session{Key: ws.Key, Username: ws.Username, CSRF: ws.CSRF, CreatedAt: ws.CreatedAt, ExpiresAt: ws.ExpiresAt}, nil
}

func (b *consoleBackend) DeleteSession(ctx context.Context, key string) error {
	return storeErr("delete web session", updateSolo(b.s.store, func(tx Tx) error { return tx.DeleteWebSession(key) }))
}

// reportArea checks what the report and findings endpoints check: a
// supervising role and an area its scope covers. The empty area (all)
// is allowed to whoever's scope covers everything.
func reportArea(u console.User, area string) error {
	if !auth.CanReadReports(u.Role) {
		return errForbidden("role %s may not read reports", u.Role)
	}
	if area != "" && !validReportArea(area) {
		return errInvalid("area: must be an area code of 2 to 12 digits, got %q", area)
	}
	if !auth.ScopeCovers(u.Scopes, area) {
		return errForbidden("area %s is not within your scope", area)
	}
	return nil
}

func (b *consoleBackend) report(u console.User, area string, period rules.Period) (*reports.Report, error) {
	if err := reportArea(u, area); err != nil {
		return nil, err
	}
	if b.s.cfg.Policies == nil {
		return nil, errors.New("report: the server has no policy set")
	}
	r, err := ComplianceReportWith(b.s.store, b.s.cfg.Policies, b.s.cfg.Evidence, area, period, b.s.cfg.Now())
	return r, storeErr("report", err)
}

// complianceReport is ComplianceReportWith on the server's store and
// configuration, reused from b.cache while the store has not changed:
// the report returned is shared and must not be changed.
func (b *consoleBackend) complianceReport(area string, period rules.Period, asOf time.Time) (*reports.Report, error) {
	compute := func() (*reports.Report, error) {
		return ComplianceReportWith(b.s.store, b.s.cfg.Policies, b.s.cfg.Evidence, area, period, asOf)
	}
	gen, ok := storeGeneration(b.s.store)
	if !ok || b.cache == nil {
		return compute()
	}
	return b.cache.report(newReportKey(area, period, b.s.cfg.Policies, asOf), gen, compute)
}

// overviewMaxAge is how old a report the overview shows, marked as being
// refreshed, rather than make its viewer wait for a fresh one.
const overviewMaxAge = 10 * time.Minute

func (b *consoleBackend) Overview(ctx context.Context, u console.User, area string, period rules.Period) (*console.Overview, error) {
	if err := reportArea(u, area); err != nil {
		return nil, err
	}
	if b.s.cfg.Policies == nil {
		return nil, errors.New("report: the server has no policy set")
	}
	var rr RecentReport
	gen, ok := storeGeneration(b.s.store)
	if !ok || b.cache == nil {
		r, err := b.complianceReport(area, period, b.s.cfg.Now())
		if err != nil {
			return nil, storeErr("report", err)
		}
		rr = RecentReport{Report: r, At: b.s.cfg.Now()}
	} else {
		var err error
		rr, err = b.cache.recentReport(newReportKey(area, period, b.s.cfg.Policies, time.Time{}), gen, b.s.cfg.Now(), overviewMaxAge,
			func(asOf time.Time) (*reports.Report, error) {
				return ComplianceReportWith(b.s.store, b.s.cfg.Policies, b.s.cfg.Evidence, area, period, asOf)
			})
		if err != nil {
			return nil, storeErr("report", err)
		}
	}
	r := rr.Report
	open, err := b.s.core.Conflicts(ctx, callerFor(u), core.ConflictFilter{Area: area})
	if err != nil {
		return nil, err
	}
	count := func() (int, error) {
		found, err := b.s.photoFindings(area)
		return len(found), err
	}
	var photos int
	if ok && b.cache != nil { // the generation read above: one read transaction per view
		photos, err = b.cache.photoCount(area, gen, b.s.cfg.Now(), count)
	} else {
		photos, err = count()
	}
	if err != nil {
		return nil, storeErr("findings", err)
	}
	return &console.Overview{Report: r, OpenConflicts: len(open), PhotoFindings: photos, ReportAt: rr.At, Refreshing: rr.Refreshing}, nil
}

func (b *consoleBackend) Report(ctx context.Context, u console.User, area string, period rules.Period, format, list string, w io.Writer) (string, error) {
	switch format {
	case "xlsx":
	case "csv":
		if !slices.Contains(reports.ListNames(), list) {
			return "", errInvalid("list: %q is not one of %s", list, strings.Join(reports.ListNames(), ", "))
		}
	default:
		return "", errInvalid("format: must be csv or xlsx, got %q", format)
	}
	r, err := b.report(u, area, period)
	if err != nil {
		return "", err
	}
	if err := b.s.addComplianceExtra(ctx, callerFor(u), r); err != nil {
		return "", storeErr("report", err)
	}
	if format == "xlsx" {
		b.s.log.Info("report served", "user", u.Username, "area", area, "period", period.Label, "format", format, "via", "console")
		return ReportFileName(area, period, "", "xlsx"), reports.WriteXLSX(w, r)
	}
	return ReportFileName(area, period, list, "csv"), reports.WriteCSV(w, r, list)
}

// listPrefixes returns the area prefixes to scan for a caller's view of
// area: area itself when the scope covers it, else the scopes inside it.
func listPrefixes(scopes []string, area string) []string {
	if auth.ScopeCovers(scopes, area) {
		return []string{area}
	}
	var out []string
	for _, s := range scopes {
		if strings.HasPrefix(s, area) {
			out = append(out, s)
		}
	}
	return out
}

// assignedTo returns the households actively assigned to an officer.
func assignedTo(tx Tx, scopes []string, officer string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, p := range scopes {
		err := tx.ScanRecordsIn(collection.Assignments, p, []string{"officer", "household_id", "active"}, func(_, _ string, f []core.FieldView) error {
			if jsonString(f[0].Value) == officer && string(f[2].Value) != "false" {
				out[jsonString(f[1].Value)] = true
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read assignments: %w", err)
		}
	}
	return out, nil
}

// Households lists households: supervisors see every household in scope,
// officers only those assigned to them, team members none (their work is
// check-ins).
func (b *consoleBackend) Households(ctx context.Context, u console.User, q console.HouseholdQuery) (*console.HouseholdPage, error) {
	if u.Role == auth.RoleTeamMember {
		return &console.HouseholdPage{}, nil
	}
	prefixes := listPrefixes(u.Scopes, q.Area)
	rows := []console.HouseholdRow{}
	err := view(b.s.store, func(tx Tx) error {
		var mine map[string]bool
		if u.Role == auth.RoleOfficer {
			var err error
			if mine, err = assignedTo(tx, u.Scopes, u.Username); err != nil {
				return err
			}
		}
		villages := map[string]string{}
		lastVisit := map[string]time.Time{}
		cited := map[string][]string{}
		for _, p := range prefixes {
			if err := tx.ScanRecordsIn(collection.Villages, p, []string{"name"}, func(_, area string, f []core.FieldView) error {
				villages[area] = jsonString(f[0].Value)
				return nil
			}); err != nil {
				return fmt.Errorf("read villages: %w", err)
			}
			if err := tx.ScanRecordsIn(collection.Visits, p, []string{"household_id", "visited_at", "photo_sha256s"}, func(_, _ string, f []core.FieldView) error {
				h := jsonString(f[0].Value)
				if at, ok := jsonTime(f[1].Value); ok && at.After(lastVisit[h]) {
					lastVisit[h] = at
				}
				var shas []string
				jsonValue(f[2].Value, &shas)
				cited[h] = append(cited[h], shas...)
				return nil
			}); err != nil {
				return fmt.Errorf("read visits: %w", err)
			}
			if err := tx.ScanRecordsIn(collection.Photos, p, []string{"household_id", "blob_sha256"}, func(_, _ string, f []core.FieldView) error {
				h := jsonString(f[0].Value)
				cited[h] = append(cited[h], jsonString(f[1].Value))
				return nil
			}); err != nil {
				return fmt.Errorf("read photos: %w", err)
			}
		}
		text := strings.ToLower(q.Text)
		for _, p := range prefixes {
			err := tx.ScanRecordsIn(collection.Households, p, []string{"head_name", "status", "address"}, func(id, area string, f []core.FieldView) error {
				if mine != nil && !mine[id] {
					return nil
				}
				row := console.HouseholdRow{ID: id, Area: area, VillageName: villages[area], HeadName: jsonString(f[0].Value),
					Address: jsonString(f[2].Value), LastVisit: lastVisit[id], EvidenceComplete: true}
				var st struct {
					Value string `json:"value"`
				}
				jsonValue(f[1].Value, &st)
				if q.Status != "" && st.Value != q.Status {
					return nil
				}
				row.Status = rules.Status(st.Value).Label()
				if text != "" && !strings.Contains(strings.ToLower(row.HeadName+" "+row.Address+" "+id), text) {
					return nil
				}
				for _, sha := range cited[id] {
					blob, err := tx.Blob(sha)
					if err != nil {
						return fmt.Errorf("blob %s: %w", sha, err)
					}
					if blob == nil {
						row.EvidenceComplete = false
						break
					}
				}
				rows = append(rows, row)
				return nil
			})
			if err != nil {
				return fmt.Errorf("read households: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, storeErr("list households", err)
	}
	if err := b.markDue(u, prefixes, rows); err != nil {
		return nil, err
	}
	if q.Due != "" {
		rows = slices.DeleteFunc(rows, func(r console.HouseholdRow) bool { return r.Due != q.Due })
	}
	slices.SortFunc(rows, func(a, b console.HouseholdRow) int {
		return cmp.Or(cmp.Compare(a.Area, b.Area), cmp.Compare(a.ID, b.ID))
	})
	page := &console.HouseholdPage{Total: len(rows)}
	from := min(max(q.Page-1, 0)*q.PageSize, len(rows))
	to := len(rows)
	if q.PageSize > 0 {
		to = min(from+q.PageSize, len(rows))
	}
	page.Rows = rows[from:to]
	return page, nil
}

// markDue marks households whose visits are overdue or due soon this
// month, as the compliance rules judge them now.
func (b *consoleBackend) markDue(u console.User, prefixes []string, rows []console.HouseholdRow) error {
	if len(rows) == 0 || b.s.cfg.Policies == nil {
		return nil
	}
	due := map[string]string{}
	period := rules.PeriodOf(rules.UnitMonth, b.s.cfg.Now())
	for _, p := range prefixes {
		r, err := b.complianceReport(p, period, b.s.cfg.Now())
		if err != nil {
			return storeErr("visit due dates", err)
		}
		for _, f := range r.Lists.VisitDueSoon {
			due[f.HouseholdID] = "due_soon"
		}
		for _, f := range r.Lists.VisitOverdue {
			due[f.HouseholdID] = "overdue"
		}
	}
	for i := range rows {
		rows[i].Due = due[rows[i].ID]
	}
	return nil
}

// householdFieldOrder is the order the household file shows fields in;
// fields not named here follow in name order.
var householdFieldOrder = []string{"head_name", "status", "address", "phone", "member_count", "primary_cause",
	"secondary_causes", "flags", "income_per_capita", "income_year", "housing_grade", "notes"}

// Household reads the one-household file. The record is read through the
// core (out of scope answers exactly as absent); an officer sees only a
// household assigned to them, a team member none.
func (b *consoleBackend) Household(ctx context.Context, u console.User, id string) (*console.HouseholdFile, error) {
	notFound := syncengine.Errorf(syncengine.ENOTFOUND, "no record households/%s", id)
	if u.Role == auth.RoleTeamMember {
		return nil, notFound
	}
	rec, hist, err := b.s.core.Record(ctx, callerFor(u), collection.Households, id, true)
	if err != nil {
		return nil, err
	}
	f := &console.HouseholdFile{ID: rec.ID, Area: rec.Area}
	f.Deleted, _ = rec.Deleted()
	for name, fv := range rec.Fields {
		f.Fields = append(f.Fields, console.FieldValue{Name: name, Value: bytes.Clone(fv.Value), Author: fv.Author,
			Device: fv.Device, At: fv.HLC.Time(), Flags: fv.Flags})
	}
	slices.SortFunc(f.Fields, func(a, b console.FieldValue) int {
		ia, ib := slices.Index(householdFieldOrder, a.Name), slices.Index(householdFieldOrder, b.Name)
		if ia < 0 {
			ia = len(householdFieldOrder)
		}
		if ib < 0 {
			ib = len(householdFieldOrder)
		}
		return cmp.Or(cmp.Compare(ia, ib), cmp.Compare(a.Name, b.Name))
	})
	for i := len(hist) - 1; i >= 0; i-- {
		op := hist[i]
		h := console.HistoryEntry{OpID: op.ID, Author: op.Author, Device: op.Device, At: op.HLC.Time(), Received: op.ReceivedAt,
			Deleted: op.Tombstone != nil, Flags: op.Flags}
		for name, v := range op.Set {
			h.Changes = append(h.Changes, console.FieldChange{Name: name, Value: v})
		}
		slices.SortFunc(h.Changes, func(a, b console.FieldChange) int { return cmp.Compare(a.Name, b.Name) })
		f.History = append(f.History, h)
	}
	var cases []*syncengine.Record
	err = view(b.s.store, func(tx Tx) error {
		if u.Role == auth.RoleOfficer {
			mine, err := assignedTo(tx, u.Scopes, u.Username)
			if err != nil {
				return err
			}
			if !mine[id] {
				return notFound
			}
		}
		var err error
		cases, err = b.readHouseholdFile(tx, f)
		return err
	})
	if err != nil {
		return nil, storeErr("household file", err)
	}
	for _, rec := range cases {
		ev, err := b.s.housingEvidence(rec)
		if err != nil {
			return nil, storeErr("housing evidence", err)
		}
		v := rec.Values()
		f.Cases = append(f.Cases, console.HousingCase{ID: rec.ID, Grade: jsonString(v["grade"]), BuildMode: jsonString(v["build_mode"]),
			Complete: ev.Complete, Missing: ev.Missing})
	}
	// A reused photo pairs this household with another, perhaps in
	// another village: look across its township (the county-wide view is
	// /findings; gathering a county's photos costs seconds, a township's
	// a twentieth of that).
	wide := f.Area[:min(9, len(f.Area))]
	for _, sc := range u.Scopes {
		if strings.HasPrefix(f.Area, sc) && len(sc) > len(wide) {
			wide = sc
		}
	}
	all, err := b.PhotoFindingsIn(wide)
	if err != nil {
		return nil, err
	}
	for _, pf := range all {
		if slices.Contains(pf.HouseholdIDs, id) {
			f.Findings = append(f.Findings, pf)
		}
	}
	cfs, err := b.Conflicts(ctx, u, "all", f.Area)
	if err != nil {
		return nil, err
	}
	for _, cf := range cfs {
		if cf.Collection == collection.Households && cf.RecordID == id {
			f.Conflicts = append(f.Conflicts, cf)
		}
	}
	return f, nil
}

// readFields reads one live record's fields as ScanRecordsIn shows them
// and passes them to fn; nothing when the record is absent or deleted.
func readFields(tx Tx, col, id string, want []string, fn func(id, area string, f []core.FieldView) error) error {
	rec, err := tx.Record(col, id)
	if err != nil || rec == nil {
		return err
	}
	if deleted, _ := rec.Deleted(); deleted {
		return nil
	}
	fields := make([]core.FieldView, len(want))
	for i, name := range want {
		if fv, ok := rec.Fields[name]; ok {
			fields[i] = core.FieldView{Value: fv.Value, HLC: fv.HLC, Author: []byte(fv.Author), OpID: []byte(fv.OpID)}
		}
	}
	return fn(rec.ID, rec.Area, fields)
}

// readHouseholdFile fills in the village, members, visits, photos and
// signatures of a household and returns its housing cases.
func (b *consoleBackend) readHouseholdFile(tx Tx, f *console.HouseholdFile) ([]*syncengine.Record, error) {
	id, area := f.ID, f.Area
	if err := tx.ScanRecordsIn(collection.Villages, area, []string{"name"}, func(_, _ string, fv []core.FieldView) error {
		f.VillageName = jsonString(fv[0].Value)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read village: %w", err)
	}
	// The members and visits of the household: picked from the village's
	// in the compact report rows and the by-household visit index where
	// the store keeps them, then read in full (a scan of the records
	// would read every member and visit of the store: records are keyed
	// by id, not area).
	ix, indexed := tx.(core.VisitIndexTx)
	memberFields := []string{"household_id", "name", "relation", "id_number"}
	addMember := func(_, _ string, fv []core.FieldView) error {
		if jsonString(fv[0].Value) != id {
			return nil
		}
		m := console.Member{Name: jsonString(fv[1].Value), Relation: relationLabel(jsonString(fv[2].Value))}
		if n := jsonString(fv[3].Value); n != "" {
			m.IDNumber = reports.MaskIDNumber(n)
		}
		f.Members = append(f.Members, m)
		return nil
	}
	var err error
	if indexed {
		var ids []string
		err = tx.ScanReportRows(collection.Members, area, []string{"household_id"}, func(mid, _ string, fv []core.FieldView) error {
			if jsonString(fv[0].Value) == id {
				ids = append(ids, mid)
			}
			return nil
		})
		for _, mid := range ids {
			if err == nil {
				err = readFields(tx, collection.Members, mid, memberFields, addMember)
			}
		}
	} else {
		err = tx.ScanRecordsIn(collection.Members, area, memberFields, addMember)
	}
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	signed := map[string]bool{"households/" + id: true}
	visitFields := []string{"household_id", "visited_at", "officer", "answered_by_name", "answered_by_relation", "notes", "checklist", "photo_sha256s"}
	addVisit := func(vid, _ string, fv []core.FieldView) error {
		if jsonString(fv[0].Value) != id {
			return nil
		}
		v := console.Visit{ID: vid, Officer: jsonString(fv[2].Value), Notes: jsonString(fv[5].Value)}
		v.At, _ = jsonTime(fv[1].Value)
		if name := jsonString(fv[3].Value); name != "" {
			v.AnsweredBy = name
			if rel := jsonString(fv[4].Value); rel != "" {
				v.AnsweredBy += "（" + relationLabel(rel) + "）"
			}
		} else if rel := jsonString(fv[4].Value); rel != "" {
			v.AnsweredBy = relationLabel(rel)
		}
		var checklist map[string]string
		jsonValue(fv[6].Value, &checklist)
		for _, item := range []string{"food", "clothing", "education", "medical", "housing", "drinking_water"} {
			if a, ok := checklist[item]; ok {
				v.Checklist = append(v.Checklist, console.ChecklistItem{Item: item, Answer: checklistLabel(a), Problem: a == "problem"})
			}
		}
		jsonValue(fv[7].Value, &v.PhotoSHAs)
		f.Visits = append(f.Visits, v)
		signed["visits/"+vid] = true
		return nil
	}
	if indexed { // the index holds the visits with a readable time, as the schema requires
		var ids []string
		err = ix.ScanVisitsByHousehold(area, func(_, household []byte, visits []core.VisitEntry) error {
			if string(household) == id {
				for _, v := range visits {
					ids = append(ids, string(v.ID))
				}
			}
			return nil
		})
		for _, vid := range ids {
			if err == nil {
				err = readFields(tx, collection.Visits, vid, visitFields, addVisit)
			}
		}
	} else {
		err = tx.ScanRecordsIn(collection.Visits, area, visitFields, addVisit)
	}
	if err != nil {
		return nil, fmt.Errorf("read visits: %w", err)
	}
	slices.SortFunc(f.Visits, func(a, b console.Visit) int { return b.At.Compare(a.At) })
	var cases []*syncengine.Record
	caseIDs := map[string]bool{}
	if err := tx.ScanRecordsIn(collection.HousingCases, area, []string{"household_id"}, func(cid, _ string, fv []core.FieldView) error {
		if jsonString(fv[0].Value) == id {
			caseIDs[cid] = true
			signed["housing_cases/"+cid] = true
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read housing cases: %w", err)
	}
	for cid := range caseIDs {
		rec, err := tx.Record(collection.HousingCases, cid)
		if err != nil {
			return nil, fmt.Errorf("housing case %s: %w", cid, err)
		}
		if rec != nil {
			cases = append(cases, rec)
		}
	}
	slices.SortFunc(cases, func(a, b *syncengine.Record) int { return cmp.Compare(a.ID, b.ID) })
	photoFields := []string{"blob_sha256", "household_id", "case_id", "stage", "captured_at"}
	if err := tx.ScanRecordsIn(collection.Photos, area, photoFields, func(pid, _ string, fv []core.FieldView) error {
		if jsonString(fv[1].Value) != id && !caseIDs[jsonString(fv[2].Value)] {
			return nil
		}
		p := console.Photo{SHA256: jsonString(fv[0].Value), CaseID: jsonString(fv[2].Value), Stage: jsonString(fv[3].Value), Record: "photos/" + pid}
		p.CapturedAt, _ = jsonTime(fv[4].Value)
		f.Photos = append(f.Photos, p)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read photos: %w", err)
	}
	for _, v := range f.Visits {
		for _, sha := range v.PhotoSHAs {
			f.Photos = append(f.Photos, console.Photo{SHA256: sha, CapturedAt: v.At, Record: "visits/" + v.ID})
		}
	}
	slices.SortStableFunc(f.Photos, func(a, b console.Photo) int { return a.CapturedAt.Compare(b.CapturedAt) })
	for i := range f.Photos {
		p := &f.Photos[i]
		if !assets.ValidSHA256(p.SHA256) {
			continue
		}
		blob, err := tx.Blob(p.SHA256)
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", p.SHA256, err)
		}
		if blob != nil {
			p.Arrived, p.HasThumb, p.HasPreview = true, blob.HasThumb, blob.HasPreview
		}
	}
	var sigIDs []string
	if err := tx.ScanRecordsIn(collection.Signatures, area, []string{"signed_collection", "signed_record_id"}, func(sid, _ string, fv []core.FieldView) error {
		if signed[jsonString(fv[0].Value)+"/"+jsonString(fv[1].Value)] {
			sigIDs = append(sigIDs, sid)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read signatures: %w", err)
	}
	for _, sid := range sigIDs {
		rec, err := tx.Record(collection.Signatures, sid)
		if err != nil || rec == nil {
			return nil, err
		}
		st, err := signatureStatus(tx, rec, b.s.annotations)
		if err != nil {
			return nil, err
		}
		v := rec.Values()
		f.Signatures = append(f.Signatures, console.Signature{ID: rec.ID, SignerName: jsonString(v["signer_name"]),
			SignerRole: signerRoleLabel(jsonString(v["signer_role"])), Purpose: purposeLabel(jsonString(v["purpose"])),
			Signed:   jsonString(v["signed_collection"]) + "/" + jsonString(v["signed_record_id"]),
			SignedAt: localRFC3339(jsonString(v["signed_at"])), Status: st, StatusTitle: SignatureStatusTitle(st)})
	}
	return cases, nil
}

// localRFC3339 shows an RFC 3339 time in China Standard Time.
func localRFC3339(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.In(rules.Shanghai()).Format("2006-01-02 15:04")
}

func relationLabel(r string) string {
	switch r {
	case "head":
		return "户主"
	case "spouse":
		return "配偶"
	case "child":
		return "子女"
	case "parent":
		return "父母"
	case "grandchild":
		return "孙辈"
	case "sibling":
		return "兄弟姐妹"
	case "other":
		return "其他"
	}
	return r
}

func checklistLabel(a string) string {
	switch a {
	case "ok":
		return "已保障"
	case "problem":
		return "存在问题"
	case "na":
		return "不适用"
	}
	return a
}

func signerRoleLabel(r string) string {
	switch r {
	case "household_head":
		return "户主"
	case "officer":
		return "帮扶干部"
	case "surveyor":
		return "调查员"
	case "village_secretary":
		return "村支书"
	}
	return r
}

func purposeLabel(p string) string {
	switch p {
	case "acceptance":
		return "竣工验收"
	case "identification":
		return "信息确认"
	case "visit":
		return "走访确认"
	}
	return p
}

func (b *consoleBackend) Conflicts(ctx context.Context, u console.User, status, area string) ([]console.Conflict, error) {
	cfs, err := b.s.core.Conflicts(ctx, callerFor(u), core.ConflictFilter{Status: status, Area: area})
	if err != nil {
		return nil, err
	}
	out := make([]console.Conflict, 0, len(cfs))
	for _, cf := range cfs {
		v := console.Conflict{ID: cf.ID, Collection: cf.Collection, RecordID: cf.RecordID, Area: cf.Area, Field: cf.Field,
			Status: cf.Status, OpenedAt: cf.OpenedAt}
		for i, c := range cf.Candidates {
			v.Candidates = append(v.Candidates, console.Candidate{Value: c.Value, Author: c.Author, Device: c.Device, At: c.HLC.Time(), Winner: i == 0})
		}
		if r := cf.Resolution; r != nil {
			v.Resolution = &console.Resolution{By: r.By, At: r.At, Value: r.Value, Note: r.Note}
		}
		out = append(out, v)
	}
	return out, nil
}

func (b *consoleBackend) Resolve(ctx context.Context, u console.User, id string, value json.RawMessage, note string) error {
	_, err := b.s.core.Resolve(ctx, callerFor(u), id, value, note)
	return err
}

func (b *consoleBackend) PhotoFindings(ctx context.Context, u console.User, area string) ([]console.PhotoFinding, error) {
	if err := reportArea(u, area); err != nil {
		return nil, err
	}
	return b.PhotoFindingsIn(area)
}

// PhotoFindingsIn lists the photo findings under area for a caller
// already checked, with the figure behind each worded in zh-CN.
func (b *consoleBackend) PhotoFindingsIn(area string) ([]console.PhotoFinding, error) {
	found, err := b.s.photoFindings(area)
	if err != nil {
		return nil, storeErr("findings", err)
	}
	out := make([]console.PhotoFinding, 0, len(found))
	for _, f := range found {
		pf := console.PhotoFinding{Kind: f.Kind, Title: f.Title, Detail: f.Detail, HouseholdIDs: f.HouseholdIDs}
		for _, p := range f.Photos {
			pf.Photos = append(pf.Photos, console.FindingPhoto{Record: p.Record, SHA256: p.SHA256})
		}
		switch {
		case f.HashBits != nil:
			pf.Measure = fmt.Sprintf("感知哈希相差 %d 位", *f.HashBits)
		case f.DeltaSeconds != nil:
			pf.Measure = "相差 " + wordDuration(time.Duration(*f.DeltaSeconds)*time.Second)
		case f.Metres != nil:
			pf.Measure = fmt.Sprintf("相距 %.0f 米", *f.Metres)
		}
		if f.Kind == string(findings.ReusedPhoto) && pf.Measure == "" {
			pf.Measure = "同一文件"
		}
		out = append(out, pf)
	}
	return out, nil
}

func wordDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d 天", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%.1f 小时", d.Hours())
	default:
		return fmt.Sprintf("%d 分钟", int(d.Minutes()))
	}
}

// Photo opens a blob the caller may see, as GET /v1/blobs/{sha} does:
// visible when an area it was uploaded for is in scope, otherwise
// ENOTFOUND like an unknown one.
func (b *consoleBackend) Photo(ctx context.Context, u console.User, sha, size string) (io.ReadCloser, string, error) {
	if !assets.ValidSHA256(sha) || b.s.cfg.Blobs == nil {
		return nil, "", syncengine.Errorf(syncengine.ENOTFOUND, "no blob %s", sha)
	}
	var blob *core.Blob
	if err := view(b.s.store, func(tx Tx) (err error) { blob, err = tx.Blob(sha); return err }); err != nil {
		return nil, "", storeErr("read blob", err)
	}
	if blob == nil || !blob.VisibleTo(u.Scopes) {
		return nil, "", syncengine.Errorf(syncengine.ENOTFOUND, "no blob %s in your scope", sha)
	}
	key, ctype := assets.OriginalKey(sha), blob.Type
	switch size {
	case "original":
	case "preview", "thumb":
		if (size == "preview" && !blob.HasPreview) || (size == "thumb" && !blob.HasThumb) {
			return nil, "", syncengine.Errorf(syncengine.ENOTFOUND, "blob %s has no %s", sha, size)
		}
		key, ctype = assets.ThumbKey(sha), "image/jpeg"
		if size == "preview" {
			key = assets.PreviewKey(sha)
		}
	default:
		return nil, "", errInvalid("size must be original, preview or thumb")
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	rc, _, err := b.s.cfg.Blobs.Get(ctx, key)
	if err != nil {
		if errors.Is(err, assets.ErrNotFound) {
			return nil, "", syncengine.Errorf(syncengine.ENOTFOUND, "blob %s bytes are missing", sha)
		}
		if assets.IsTransient(err) {
			return nil, "", syncengine.Errorf(syncengine.ETRANSIENT, "blob store unavailable")
		}
		return nil, "", fmt.Errorf("read blob %s: %w", key, err)
	}
	return rc, ctype, nil
}

func (b *consoleBackend) Accounts(ctx context.Context, u console.User) ([]console.Account, error) {
	list, err := b.s.core.Users(ctx, callerFor(u))
	if err != nil {
		return nil, err
	}
	out := make([]console.Account, 0, len(list))
	for _, a := range list {
		out = append(out, console.Account{Username: a.Username, DisplayName: a.DisplayName, Role: a.Role,
			Scopes: slices.Clone(a.Scopes), Disabled: a.Disabled, CreatedAt: a.CreatedAt})
	}
	return out, nil
}

func (b *consoleBackend) Devices(ctx context.Context, u console.User) ([]console.Device, error) {
	list, err := b.s.core.Devices(ctx, callerFor(u))
	if err != nil {
		return nil, err
	}
	out := make([]console.Device, 0, len(list))
	for _, d := range list {
		out = append(out, console.Device{ID: d.ID, Username: d.Username, Name: d.Name, EnrolledAt: d.EnrolledAt, RevokedAt: d.RevokedAt})
	}
	return out, nil
}

func (b *consoleBackend) AddUser(ctx context.Context, u console.User, in console.NewUser) error {
	_, err := b.s.core.AddUser(ctx, callerFor(u), core.UserInput{Username: in.Username, Password: in.Password, Role: in.Role,
		Scopes: in.Scopes, DisplayName: in.DisplayName})
	return err
}

func (b *consoleBackend) UpdateUser(ctx context.Context, u console.User, username string, ch console.UserChange) error {
	_, err := b.s.core.UpdateUser(ctx, callerFor(u), username, core.UserUpdate{Role: &ch.Role, Scopes: ch.Scopes, Disabled: &ch.Disabled})
	return err
}

func (b *consoleBackend) RevokeDevice(ctx context.Context, u console.User, id string) error {
	return b.s.core.RevokeDevice(ctx, callerFor(u), id)
}

func (b *consoleBackend) ImportHouseholds(ctx context.Context, u console.User, xlsx io.Reader) (*console.ImportResult, error) {
	res, err := b.s.core.ImportHouseholds(ctx, callerFor(u), xlsx)
	if err != nil {
		return nil, err
	}
	out := &console.ImportResult{Imported: res.Imported, Unchanged: res.Unchanged}
	for _, p := range res.Problems {
		out.Problems = append(out.Problems, console.ImportProblem{Row: p.Row, Column: p.Column, Code: p.Code, Reason: p.Reason})
	}
	return out, nil
}

// Residency builds each team member's month from the report input and
// the residency rules: the rules' clock and travel findings say which
// check-ins were not trusted; geofence and GPS accuracy are judged with
// the same policy figures as rules.CheckResidency, whose short-residency
// findings the days here must match (the console tests check it).
//
// A team member sees only their own month, in villages of their scope
// (an area outside it answers EFORBIDDEN, as for report readers).
func (b *consoleBackend) Residency(ctx context.Context, u console.User, area string, month rules.Period) ([]console.MemberMonth, error) {
	self := ""
	if u.Role == auth.RoleTeamMember {
		self = u.Username
		if area == "" || !validReportArea(area) || !auth.ScopeCovers(u.Scopes, area) {
			return nil, errForbidden("area %s is not within your scope", area)
		}
	} else if err := reportArea(u, area); err != nil {
		return nil, err
	}
	if b.s.cfg.Policies == nil {
		return nil, errors.New("residency: the server has no policy set")
	}
	var in *rules.Input
	if err := view(b.s.store, func(tx Tx) (err error) {
		in, err = ReadReportInputWith(tx, b.s.cfg.Evidence, area, b.s.cfg.Now())
		return err
	}); err != nil {
		return nil, storeErr("residency", err)
	}
	_, clock, travel := rules.CheckResidency(in, b.s.cfg.Policies, month)
	why := map[string]string{}
	for _, c := range clock {
		if c.AheadMinutes >= 0 {
			why[c.CheckinID] = fmt.Sprintf("平板时间比服务器接收时间快 %d 分钟（上限 %d 分钟）", c.AheadMinutes, c.LimitMinutes)
		} else {
			why[c.CheckinID] = fmt.Sprintf("签到后 %d 分钟才上传（上限 %d 分钟）", -c.AheadMinutes, c.LimitMinutes)
		}
	}
	for _, t := range travel {
		why[t.CheckinID] = fmt.Sprintf("与上一次签到相距 %.2f 公里，需时速 %.0f 公里（上限 %.0f）", t.DistanceKm, t.SpeedKmh, t.MaxKmh)
	}
	villages := map[string]*rules.Village{}
	for i := range in.Villages {
		villages[in.Villages[i].Code] = &in.Villages[i]
	}
	ndays := month.End.Sub(month.Start).Hours() / 24
	var out []console.MemberMonth
	for _, t := range in.Teams {
		pol := b.s.cfg.Policies.For(t.VillageCode, month.Year())
		v := villages[t.VillageCode]
		radius := pol.Checkin.GeofenceM
		if v != nil && v.GeofenceM > 0 {
			radius = v.GeofenceM
		}
		seen := map[string]bool{}
		for _, m := range append([]string{t.FirstSecretary}, t.Members...) {
			if m == "" || seen[m] || (self != "" && m != self) {
				continue
			}
			seen[m] = true
			mm := console.MemberMonth{Member: m, Village: t.VillageCode, Required: pol.Residency.DaysPerMonth,
				Dates: make([]console.ResidencyDate, int(ndays+0.5))}
			if v != nil {
				mm.VillageName = v.Name
			}
			for _, c := range in.Checkins {
				if c.Member != m || !month.Contains(c.At) {
					continue
				}
				day := c.At.In(rules.Shanghai()).Day() - 1
				reason, untrusted := why[c.ID]
				switch {
				case untrusted:
				case v == nil:
					reason = "所在村无定位信息"
				case c.AccuracyM <= 0:
					reason = "定位精度未知"
				case c.AccuracyM > pol.Checkin.MaxAccuracyM:
					reason = fmt.Sprintf("定位精度 %.0f 米（上限 %.0f 米）", c.AccuracyM, pol.Checkin.MaxAccuracyM)
				default:
					if d := rules.DistanceM(v.Lat, v.Lon, c.Lat, c.Lon); d > radius {
						reason = fmt.Sprintf("距村中心 %.0f 米，超出驻村范围 %.0f 米", d, radius)
					}
				}
				if reason == "" {
					mm.Dates[day].Checkin = true
					continue
				}
				mm.Dates[day].Uncounted++
				mm.NotCounted = append(mm.NotCounted, console.UncountedCheckin{ID: c.ID, At: c.At, Reason: reason})
			}
			for _, d := range in.DutyDays {
				if d.Member != m || d.ApprovedBy == "" || d.Date.IsZero() || !month.Contains(d.Date.Start()) || !pol.Residency.Counts(d.Kind) {
					continue
				}
				mm.Dates[d.Date.Start().In(rules.Shanghai()).Day()-1].DutyKind = d.Kind
			}
			for _, d := range mm.Dates {
				if d.Checkin {
					mm.CheckinDays++
				}
				if d.DutyKind != "" {
					mm.DutyDays++
				}
				if d.Checkin || d.DutyKind != "" {
					mm.Days++
				}
			}
			slices.SortFunc(mm.NotCounted, func(a, b console.UncountedCheckin) int { return a.At.Compare(b.At) })
			out = append(out, mm)
		}
	}
	slices.SortFunc(out, func(a, b console.MemberMonth) int {
		return cmp.Or(cmp.Compare(a.Village, b.Village), cmp.Compare(a.Member, b.Member))
	})
	return out, nil
}

// consoleDevice is the device named on ops the web console writes.
const consoleDevice = "console"

// UploadToken mints an access token like the API login's (no device,
// the core's secret, 15 minutes) for a signed-in console user whose role
// may write photos, so the browser's tus client can call /v1/uploads.
func (b *consoleBackend) UploadToken(ctx context.Context, u console.User, householdID string) (string, string, error) {
	if !auth.CanWrite(u.Role, collection.Photos) {
		return "", "", errForbidden("role %s may not upload photos", u.Role)
	}
	cur, err := b.User(ctx, u.Username)
	if err != nil {
		return "", "", err
	}
	hh, _, err := b.s.core.Record(ctx, callerFor(cur), collection.Households, householdID, false)
	if err != nil {
		return "", "", err
	}
	if hh == nil {
		return "", "", syncengine.Errorf(syncengine.ENOTFOUND, "household %s not found", householdID)
	}
	tok, err := auth.NewTokens(b.s.store.Secret(), 15*time.Minute, b.s.cfg.Now).Issue(cur.Username, cur.Role, cur.Scopes, "")
	if err != nil {
		return "", "", fmt.Errorf("upload token: %w", err)
	}
	return tok, hh.Area, nil
}

// AddPhoto pushes the photos record through core.Push under the console
// user with no device, exactly as the API's push checks a tablet's op.
//
// The op names device "console" (ops need one; core.ImportDevice is the
// same idea for register imports), so the history shows where it came from.
func (b *consoleBackend) AddPhoto(ctx context.Context, u console.User, in console.NewPhoto) (string, error) {
	caller := callerFor(u)
	caller.Device = consoleDevice
	hh, _, err := b.s.core.Record(ctx, caller, collection.Households, in.HouseholdID, false)
	if err != nil {
		return "", err
	}
	if hh == nil {
		return "", syncengine.Errorf(syncengine.ENOTFOUND, "household %s not found", in.HouseholdID)
	}
	set := map[string]json.RawMessage{}
	put := func(k string, v any) {
		raw, _ := json.Marshal(v)
		set[k] = raw
	}
	put("blob_sha256", in.SHA256)
	put("household_id", in.HouseholdID)
	put("stage", in.Stage)
	put("captured_at", in.CapturedAt.UTC().Format(time.RFC3339))
	if in.CaseID != "" {
		put("case_id", in.CaseID)
	}
	id := "ph-" + in.SHA256[:16] + "-" + in.HouseholdID
	now := b.s.cfg.Now()
	op := syncengine.WireOp{ID: "console-" + id + "-" + in.Stage, RecordID: id, Collection: collection.Photos, Area: hh.Area,
		Author: u.Username, Device: consoleDevice, HLC: uint64(syncengine.MakeHLC(now.UnixMilli(), 0)), Set: set, DeviceTime: now.UnixMilli()}
	res, err := b.s.core.Push(ctx, caller, []syncengine.WireOp{op})
	if err != nil {
		return "", err
	}
	if len(res.Rejected) > 0 {
		r := res.Rejected[0]
		return "", syncengine.Errorf(syncengine.EINVALID, "照片记录未被接受：%s", r.Message)
	}
	return id, nil
}

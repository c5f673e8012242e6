package fieldapp

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/chinatime"
	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// chinaTime is the zone times are written and shown in (package
// chinatime).
var chinaTime = chinatime.Zone()

func (a *App) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/lock", a.lockState)
	mux.HandleFunc("POST /api/lock/unlock", a.unlock)
	mux.HandleFunc("POST /api/lock/lock", a.lockNow)
	mux.HandleFunc("POST /api/lock/pin", a.setPIN)
	mux.HandleFunc("POST /api/lock/renew", a.renewAndUnlock)
	mux.HandleFunc("GET /api/me", a.me)
	mux.HandleFunc("POST /api/setup", a.setup)
	mux.HandleFunc("GET /api/households", a.households)
	mux.HandleFunc("GET /api/households/{id}", a.household)
	mux.HandleFunc("GET /api/forms/{collection}", a.form)
	mux.HandleFunc("GET /api/drafts/{id}", a.getDraft)
	mux.HandleFunc("PUT /api/drafts/{id}", a.putDraft)
	mux.HandleFunc("DELETE /api/drafts/{id}", a.deleteDraft)
	mux.HandleFunc("POST /api/drafts/{id}/photos", a.addDraftPhoto)
	mux.HandleFunc("DELETE /api/drafts/{id}/photos/{n}", a.removeDraftPhoto)
	mux.HandleFunc("GET /api/drafts/{id}/photos/{n}", a.draftPhoto)
	mux.HandleFunc("POST /api/drafts/{id}/save", a.saveDraft)
	mux.HandleFunc("GET /api/blobs/{sha}", a.blob)
	mux.HandleFunc("GET /api/residency", a.residency)
	mux.HandleFunc("POST /api/checkins", a.checkin)
	mux.HandleFunc("POST /api/duty_days", a.dutyDay)
	mux.HandleFunc("GET /api/sync", a.syncStatus)
	mux.HandleFunc("POST /api/sync", a.startSync)
	mux.HandleFunc("GET /api/rejected", a.rejected)
	mux.HandleFunc("POST /api/rejected/{op}/fix", a.fixRejected)
	mux.HandleFunc("GET /api/conflicts", a.conflictsList)
	mux.HandleFunc("GET /api/status", a.status)
}

// ---- lock ----

func (a *App) lockState(w http.ResponseWriter, r *http.Request) {
	ks, err := a.c.KeyState()
	if err != nil {
		a.fail(w, err)
		return
	}
	out := map[string]any{"locked": a.isLocked(), "has_pin": ks.Protected, "idle_seconds": int(a.opts.IdleLock / time.Second),
		"lease_valid": ks.LeaseValid, "pin_failures": ks.PINFailures, "max_pin_failures": ks.MaxPINFailures}
	if !ks.LeaseUntil.IsZero() {
		out["lease_until"] = ks.LeaseUntil.Format(time.RFC3339)
	}
	writeJSON(w, http.StatusOK, out)
}

// unlock derives the key of the personal fields from the PIN
// (client.Unlock): a wrong PIN is EPIN (401), a try too soon EPINWAIT
// (429), a lease that ran out ELEASE (423: sync with /api/lock/renew),
// and the last wrong PIN wipes the tablet (EREVOKED, 410).
func (a *App) unlock(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PIN string `json:"pin"`
	}
	if err := readJSON(r, &req); err != nil {
		a.fail(w, err)
		return
	}
	if err := a.c.Unlock(req.PIN); err != nil {
		a.fail(w, err)
		return
	}
	a.unlocked()
	writeJSON(w, http.StatusOK, map[string]any{"locked": false})
}

// renewAndUnlock is the lock screen's way past a lease that ran out: ask
// the server for the key share (the only step that needs a network), then
// unlock with the PIN.
func (a *App) renewAndUnlock(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PIN string `json:"pin"`
	}
	if err := readJSON(r, &req); err != nil {
		a.fail(w, err)
		return
	}
	if err := a.c.RenewKeyShare(r.Context()); err != nil {
		a.fail(w, err)
		return
	}
	if err := a.c.Unlock(req.PIN); err != nil {
		a.fail(w, err)
		return
	}
	a.unlocked()
	writeJSON(w, http.StatusOK, map[string]any{"locked": false})
}

func (a *App) unlocked() {
	a.mu.Lock()
	a.locked = false
	a.lastActive = a.opts.Now()
	a.mu.Unlock()
}

func (a *App) lockNow(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.locked = true
	a.c.Lock()
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"locked": a.isLocked()})
}

// setPIN sets the PIN; changing one needs the current PIN (counted as an
// unlock try) and an unlocked app. The first PIN needs a key share: the
// tablet must have synced within the lease.
func (a *App) setPIN(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PIN     string `json:"pin"`
		Current string `json:"current"`
	}
	if err := readJSON(r, &req); err != nil {
		a.fail(w, err)
		return
	}
	has, err := a.c.HasPIN()
	if err != nil {
		a.fail(w, err)
		return
	}
	if has {
		if a.isLocked() {
			writeError(w, http.StatusLocked, client.CodeLocked, "已锁定：请先输入 PIN 解锁")
			return
		}
		if err := a.c.Unlock(req.Current); err != nil {
			a.fail(w, err)
			return
		}
	}
	if err := a.c.SetPIN(req.PIN); err != nil {
		a.fail(w, err)
		return
	}
	a.touch()
	writeJSON(w, http.StatusOK, map[string]any{"has_pin": true})
}

// ---- session ----

func (a *App) me(w http.ResponseWriter, r *http.Request) {
	st, err := a.c.Status()
	if err != nil {
		a.fail(w, err)
		return
	}
	has, _ := a.c.HasPIN()
	writeJSON(w, http.StatusOK, map[string]any{
		"user": st.User, "role": st.Role, "server": st.Server, "device_id": st.DeviceID, "device_name": st.DeviceName,
		"enrolled": st.Enrolled, "has_pin": has, "pending": st.Pending, "rejected": st.Rejected,
	})
}

// setup is the first run: log in to the server, enrol this tablet and
// fetch its key share (the only steps that need a network), and set the
// PIN, which with the share unlocks the personal fields.
func (a *App) setup(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Server, User, Password string
		DeviceName             string `json:"device_name"`
		PIN                    string `json:"pin"`
	}
	if err := readJSON(r, &req); err != nil {
		a.fail(w, err)
		return
	}
	req.Server = serverAddress(req.Server)
	if req.Server == "" || req.User == "" || req.Password == "" || strings.TrimSpace(req.DeviceName) == "" {
		writeError(w, http.StatusBadRequest, "EINVALID", "请填写服务器地址、用户名、密码和设备名")
		return
	}
	if req.PIN != "" && !client.ValidPIN(req.PIN) {
		writeError(w, http.StatusBadRequest, "EINVALID", "PIN 须为 4 到 12 位数字")
		return
	}
	if err := a.c.Login(r.Context(), req.Server, req.User, req.Password); err != nil {
		if syncengine.ErrorCode(err) == syncengine.EUNAUTHORIZED {
			// Here it can only be the password or the name, not a lapsed login.
			writeError(w, http.StatusUnauthorized, string(syncengine.EUNAUTHORIZED), "用户名或密码不正确")
			return
		}
		a.fail(w, err)
		return
	}
	if err := a.c.Enroll(r.Context(), req.DeviceName); err != nil {
		a.fail(w, err)
		return
	}
	if req.PIN != "" {
		if err := a.c.RenewKeyShare(r.Context()); err != nil {
			a.fail(w, err)
			return
		}
		if err := a.c.SetPIN(req.PIN); err != nil {
			a.fail(w, err)
			return
		}
		a.unlocked()
	}
	a.me(w, r)
}

// serverAddress is the server's URL from what the officer typed: the
// address the county hands out reads "192.168.1.10:8080", without a
// scheme, which means http.
func serverAddress(typed string) string {
	s := strings.TrimSpace(typed)
	if s != "" && !strings.Contains(s, "://") {
		s = "http://" + s
	}
	return s
}

// ---- households ----

type householdItem struct {
	ID          string `json:"id"`
	Head        string `json:"head"`
	Area        string `json:"area"`
	Village     string `json:"village"`
	Status      string `json:"status"`
	StatusLabel string `json:"status_label"`
	State       string `json:"state"`
	StateLabel  string `json:"state_label"`
	Cadence     string `json:"cadence"`
	LastVisit   string `json:"last_visit"`
	Pending     int    `json:"pending"`
	Rejected    int    `json:"rejected"`
}

// villageNames maps village codes to names from the villages on the tablet.
func (a *App) villageNames() map[string]string {
	out := map[string]string{}
	vs, _ := a.c.Query(client.CollectionVillages, nil)
	for _, v := range vs {
		out[v.String("code")] = v.String("name")
	}
	return out
}

// openCounts counts, per household, the records not yet acknowledged and
// the ops the server refused, the list's badges.
func (a *App) openCounts() (pending, rejected map[string]int, err error) {
	pending, rejected = map[string]int{}, map[string]int{}
	for _, col := range []string{client.CollectionVisits, client.CollectionPhotos, client.CollectionMembers} {
		recs, err := a.c.Query(col, nil)
		if err != nil {
			return nil, nil, err
		}
		for _, v := range recs {
			if v.Pending {
				pending[v.String(client.FieldHousehold)]++
			}
		}
	}
	hh, err := a.c.Query(client.CollectionHouseholds, nil)
	if err != nil {
		return nil, nil, err
	}
	for _, h := range hh {
		if h.Pending {
			pending[h.ID]++
		}
	}
	rej, err := a.c.Rejected()
	if err != nil {
		return nil, nil, err
	}
	for _, r := range rej {
		rejected[householdOfOp(r.Op)]++
	}
	return pending, rejected, nil
}

// householdOfOp is the household an op is about: the record itself for
// households, else its household_id field.
func householdOfOp(op *syncengine.Op) string {
	if op.Collection == client.CollectionHouseholds {
		return op.RecordID
	}
	var s string
	_ = json.Unmarshal(op.Set[client.FieldHousehold], &s)
	return s
}

func (a *App) households(w http.ResponseWriter, r *http.Request) {
	due, err := a.c.HouseholdsDue(a.c.Now(), a.policies)
	if err != nil {
		a.fail(w, err)
		return
	}
	villages := a.villageNames()
	pending, rejected, err := a.openCounts()
	if err != nil {
		a.fail(w, err)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	out := []householdItem{}
	for _, d := range due {
		h := d.Household
		it := householdItem{ID: h.ID, Head: h.String("head_name"), Area: h.Area, Village: villages[h.Area],
			Status: d.Status, StatusLabel: rules.Status(d.Status).Label(), State: string(d.State), StateLabel: d.State.Label(),
			Pending: pending[h.ID], Rejected: rejected[h.ID]}
		if d.State != client.VisitNotRequired {
			it.Cadence = d.Cadence.Label()
		}
		if !d.LastVisit.IsZero() {
			it.LastVisit = d.LastVisit.In(chinaTime).Format("2006-01-02")
		}
		if q != "" && !strings.Contains(it.Head, q) && !strings.Contains(it.Village, q) && !strings.Contains(it.ID, q) &&
			!strings.Contains(h.String("address"), q) {
			continue
		}
		out = append(out, it)
	}
	writeJSON(w, http.StatusOK, map[string]any{"households": out})
}

// roleLabel names an account's role as the county's staff say it.
func roleLabel(role string) string {
	if l, ok := roleLabels[role]; ok {
		return l
	}
	return role
}

var roleLabels = map[string]string{
	"officer": "帮扶干部", "team_member": "驻村工作队员", "township": "乡镇工作人员", "county": "县扶贫办", "auditor": "检查组", "admin": "管理员",
}

var relationLabels = map[string]string{
	"head": "户主", "spouse": "配偶", "child": "子女", "parent": "父母", "grandchild": "孙辈", "sibling": "兄弟姐妹", "other": "其他",
}

// fieldIDNumber is the members field holding an identity number, shown
// masked everywhere in the app.
const fieldIDNumber = "id_number"

// maskID shows an identity number as its first 3 and last 4 characters.
func maskID(id string) string {
	r := []rune(id)
	if len(r) <= 7 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:3]) + strings.Repeat("*", len(r)-7) + string(r[len(r)-4:])
}

func byHousehold(id string) func(map[string]json.RawMessage) bool {
	return func(v map[string]json.RawMessage) bool {
		var s string
		_ = json.Unmarshal(v[client.FieldHousehold], &s)
		return s == id
	}
}

func (a *App) household(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	h, err := a.c.Get(client.CollectionHouseholds, id)
	if err != nil {
		a.fail(w, err)
		return
	}
	var st struct {
		Value string `json:"value"`
		Year  int    `json:"year"`
	}
	_ = json.Unmarshal(h.Values["status"], &st)
	out := map[string]any{"id": h.ID, "head": h.String("head_name"), "area": h.Area, "village": a.villageNames()[h.Area],
		"address": h.String("address"), "phone": h.String("phone"), "status": st.Value, "status_label": rules.Status(st.Value).Label(),
		"status_year": st.Year, "pending": h.Pending}
	due, err := a.c.HouseholdsDue(a.c.Now(), a.policies)
	if err != nil {
		a.fail(w, err)
		return
	}
	for _, d := range due {
		if d.Household.ID == id {
			out["state"], out["state_label"] = string(d.State), d.State.Label()
			if d.State != client.VisitNotRequired {
				out["cadence"] = d.Cadence.Label()
				out["window_end"] = d.WindowEnd.In(chinaTime).Add(-time.Second).Format("2006-01-02")
			}
		}
	}
	members, err := a.c.Query(client.CollectionMembers, byHousehold(id))
	if err != nil {
		a.fail(w, err)
		return
	}
	ms := []map[string]any{}
	for _, m := range members {
		ms = append(ms, map[string]any{"id": m.ID, "name": m.String("name"), "relation": m.String("relation"),
			"relation_label": relationLabels[m.String("relation")], "id_number": maskID(m.String(fieldIDNumber))})
	}
	out["members"] = ms
	visits, err := a.c.Query(client.CollectionVisits, byHousehold(id))
	if err != nil {
		a.fail(w, err)
		return
	}
	sort.Slice(visits, func(i, j int) bool { return visits[i].String("visited_at") > visits[j].String("visited_at") })
	vs := []map[string]any{}
	var problems []string
	for i, v := range visits {
		var checklist map[string]string
		_ = json.Unmarshal(v.Values["checklist"], &checklist)
		bad := []string{} // an empty list, not null: the household screen counts it
		for k, s := range checklist {
			if s == "problem" {
				bad = append(bad, k)
			}
		}
		sort.Strings(bad)
		if i == 0 {
			problems = bad
		}
		if i < 10 {
			at, _ := time.Parse(time.RFC3339, v.String("visited_at"))
			answered := v.String("answered_by_name")
			vs = append(vs, map[string]any{"id": v.ID, "visited_at": at.In(chinaTime).Format("2006-01-02 15:04"),
				"officer": v.String("officer"), "answered_by": answered, "notes": v.String("notes"), "pending": v.Pending,
				"problems": bad})
		}
	}
	out["visits"] = vs
	photos, err := a.c.Query(client.CollectionPhotos, byHousehold(id))
	if err != nil {
		a.fail(w, err)
		return
	}
	ps := []map[string]any{}
	for _, p := range photos {
		sha := p.String("blob_sha256")
		_, berr := a.c.Blob(sha)
		ps = append(ps, map[string]any{"id": p.ID, "stage": p.String("stage"), "captured_at": p.String("captured_at"),
			"sha256": sha, "on_tablet": berr == nil, "pending": p.Pending})
	}
	out["photos"] = ps
	form, err := BuildForm(a.reg, client.CollectionVisits)
	if err != nil {
		a.fail(w, err)
		return
	}
	open := []map[string]any{}
	titles := map[string]string{}
	for _, f := range form.Fields {
		for _, sub := range f.Fields {
			titles[strings.TrimPrefix(sub.Name, f.Name+".")] = sub.Title
		}
	}
	for _, p := range problems {
		open = append(open, map[string]any{"kind": "problem", "text": "上次走访「" + titles[p] + "」一项存在问题"})
	}
	rej, err := a.c.Rejected()
	if err != nil {
		a.fail(w, err)
		return
	}
	for _, rj := range rej {
		if householdOfOp(rj.Op) == id {
			reason, _ := refusalText(a.reg, rj.Code, rj.Message)
			open = append(open, map[string]any{"kind": "rejected", "op_id": rj.Op.ID, "text": "被服务器拒绝：" + reason})
		}
	}
	out["open_items"] = open
	d, derr := a.c.Draft(visitDraftID(id))
	out["has_draft"] = derr == nil && len(d) > 0
	writeJSON(w, http.StatusOK, out)
}

func (a *App) form(w http.ResponseWriter, r *http.Request) {
	f, err := BuildForm(a.reg, r.PathValue("collection"))
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (a *App) blob(w http.ResponseWriter, r *http.Request) {
	b, err := a.c.Blob(r.PathValue("sha"))
	if err != nil {
		a.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", http.DetectContentType(b))
	w.Header().Set("Cache-Control", "private, max-age=86400")
	_, _ = w.Write(b)
}

// ---- status ----

func (a *App) status(w http.ResponseWriter, r *http.Request) {
	st, err := a.c.Status()
	if err != nil {
		a.fail(w, err)
		return
	}
	q, err := a.waitingFiles()
	if err != nil {
		a.fail(w, err)
		return
	}
	used, _ := a.c.StorageBytes()
	versions := map[string]int{}
	forms := []map[string]any{} // the same, by the forms' Chinese titles
	for _, col := range a.reg.Collections() {
		versions[col] = a.reg.Version(col)
		title, _ := schemaTitles(a.reg, col, nil)
		forms = append(forms, map[string]any{"collection": col, "title": title, "version": a.reg.Version(col)})
	}
	last := ""
	if !st.LastSync.IsZero() {
		last = st.LastSync.In(chinaTime).Format("2006-01-02 15:04:05")
	}
	drafts, _ := a.c.DraftIDs()
	nDrafts := 0
	for _, d := range drafts {
		if !strings.Contains(d, "/photo/") {
			nDrafts++
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"user": st.User, "role": st.Role, "role_label": roleLabel(st.Role), "server": st.Server, "device_id": st.DeviceID, "device_name": st.DeviceName,
		"pending_ops": st.Pending, "sent_ops": st.Sent, "rejected_ops": st.Rejected,
		"pending_files": q.Files, "pending_originals": q.Originals, "pending_file_bytes": q.Bytes, "last_sync": last,
		"storage_bytes": used, "app_version": a.opts.Version, "schema_versions": versions, "form_versions": forms, "drafts": nDrafts,
		"clock_warning": clockWarning(st),
	})
}

// waiting is the work a sync would do: records in the outbox, evidence
// files not yet on the server (Originals of them wait for an unmetered
// sync), and their bytes still to send.
type waiting struct {
	Ops       int   `json:"ops"`
	Files     int   `json:"files"`
	Originals int   `json:"originals"`
	Bytes     int64 `json:"bytes"`
}

// waitingFiles counts the upload queue's files not yet done.
func (a *App) waitingFiles() (waiting, error) {
	var out waiting
	q, err := a.c.UploadQueue()
	if err != nil {
		return out, err
	}
	for _, it := range q {
		if it.State != client.UploadDone {
			out.Files++
			out.Bytes += it.Size - it.Sent
			if it.Class == client.UploadOriginal {
				out.Originals++ // sent by an unmetered sync only
			}
		}
	}
	return out, nil
}

// clockWarning is the clock-suspect warning: the tablet's clock is far
// from the server's as measured at the last sync.
func clockWarning(st client.Status) string {
	if !st.ClockOffsetKnown || st.ClockOffset.Abs() < 5*time.Minute {
		return ""
	}
	dir := "慢"
	if st.ClockOffset < 0 {
		dir = "快"
	}
	return fmt.Sprintf("本机时钟比服务器%s %s：请校正平板时间，否则记录时间会被标记为可疑", dir, durationText(st.ClockOffset.Abs()))
}

// durationText says a clock's offset in words, to the minute: "2 小时 5 分钟",
// "3 天 4 小时" (Go's "2h5m0s" is not for the officer).
func durationText(d time.Duration) string {
	d = d.Round(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%d 天", days))
	}
	if hours > 0 {
		parts = append(parts, fmt.Sprintf("%d 小时", hours))
	}
	if mins > 0 && days == 0 {
		parts = append(parts, fmt.Sprintf("%d 分钟", mins))
	}
	if len(parts) == 0 {
		return "不到 1 分钟"
	}
	return strings.Join(parts, " ")
}

// ---- rejected ----

func (a *App) rejected(w http.ResponseWriter, r *http.Request) {
	list, err := a.c.Rejected()
	if err != nil {
		a.fail(w, err)
		return
	}
	out := []map[string]any{}
	for _, rj := range list {
		var fields []string
		for k := range rj.Op.Set {
			fields = append(fields, k)
		}
		sort.Strings(fields)
		// An officer reads the schema's titles, not its keys, and the
		// server's reason in Chinese ("reason"; "message" is the server's
		// own text, kept for support).
		title, labels := schemaTitles(a.reg, rj.Op.Collection, fields)
		reason, field := refusalText(a.reg, rj.Code, rj.Message)
		fieldTitle := ""
		if field != "" {
			fieldTitle = fieldTitles(a.reg, rj.Op.Collection)[field]
		}
		out = append(out, map[string]any{"op_id": rj.Op.ID, "collection": rj.Op.Collection, "collection_title": title,
			"record_id": rj.Op.RecordID, "household_id": householdOfOp(rj.Op), "code": rj.Code, "message": rj.Message,
			"reason": reason, "field": field, "field_title": fieldTitle, "fields": fields, "field_titles": labels,
			"at": rj.At.In(chinaTime).Format("01-02 15:04"), "fixable": rj.Op.Tombstone == nil && a.reg.Schema(rj.Op.Collection) != nil})
	}
	writeJSON(w, http.StatusOK, map[string]any{"rejected": out})
}

// fixRejected turns a refused op into a draft of its collection's form,
// prefilled with its values, to correct and save again.
func (a *App) fixRejected(w http.ResponseWriter, r *http.Request) {
	opID := r.PathValue("op")
	list, err := a.c.Rejected()
	if err != nil {
		a.fail(w, err)
		return
	}
	i := slices.IndexFunc(list, func(rj client.RejectedOp) bool { return rj.Op.ID == opID })
	if i < 0 {
		writeError(w, http.StatusNotFound, "ENOTFOUND", "没有这条被拒绝的记录")
		return
	}
	op := list[i].Op
	form, err := BuildForm(a.reg, op.Collection)
	if err != nil {
		a.fail(w, err)
		return
	}
	inputs, carry := form.Inputs(op.Set)
	reason, _ := refusalText(a.reg, list[i].Code, list[i].Message)
	d := &draft{ID: "fix-" + op.ID, Kind: "fix", Collection: op.Collection, RecordID: op.RecordID, Area: op.Area,
		HouseholdID: householdOfOp(op), Values: inputs, Carry: carry, RejectedOp: op.ID, Reason: reason}
	if err := a.storeDraft(d); err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// ---- helpers ----

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

func readBody(r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		return nil, syncengine.Errorf(syncengine.EINVALID, "文件过大或读取失败：%v", err)
	}
	return b, nil
}

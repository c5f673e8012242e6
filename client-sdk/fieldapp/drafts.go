package fieldapp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/assets/photo"
	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// draft is a form being filled, kept in the tablet store (not only in the
// browser) so it survives the app being killed mid-form. Photo bytes are
// stored as drafts of their own, "<id>/photo/<n>".
type draft struct {
	ID          string                     `json:"id"`
	Kind        string                     `json:"kind"` // visit, fix or record
	Collection  string                     `json:"collection"`
	RecordID    string                     `json:"record_id,omitempty"`
	Area        string                     `json:"area,omitempty"`
	HouseholdID string                     `json:"household_id,omitempty"`
	Values      map[string]string          `json:"values"`
	Strokes     []client.Stroke            `json:"strokes,omitempty"`
	GPS         *client.GPS                `json:"gps,omitempty"`
	Photos      []draftPhoto               `json:"photos,omitempty"`
	Carry       map[string]json.RawMessage `json:"carry,omitempty"`
	RejectedOp  string                     `json:"rejected_op,omitempty"`
	Reason      string                     `json:"reason,omitempty"`
	Updated     string                     `json:"updated,omitempty"`
	NextPhoto   int                        `json:"next_photo"`
}

type draftPhoto struct {
	N     int    `json:"n"`
	Stage string `json:"stage"`
	Name  string `json:"name"`
	Size  int    `json:"size"`
}

func visitDraftID(household string) string { return "visit-" + household }

func photoKey(id string, n int) string { return id + "/photo/" + strconv.Itoa(n) }

// evidenceKey holds the evidence copy of a draft photo, made when the
// photo was added so that saving does not wait for it.
func evidenceKey(id string, n int) string { return photoKey(id, n) + "/evidence" }

func (a *App) loadDraft(id string) (*draft, error) {
	b, err := a.c.Draft(id)
	if err != nil {
		return nil, err
	}
	var d draft
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, syncengine.Errorf(syncengine.EINVALID, "草稿 %s 已损坏：%v", id, err)
	}
	if d.Values == nil {
		d.Values = map[string]string{}
	}
	return &d, nil
}

func (a *App) storeDraft(d *draft) error {
	d.Updated = a.c.Now().In(chinaTime).Format(time.RFC3339)
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return a.c.SaveDraft(d.ID, b)
}

// getDraft returns a draft; a visit draft that does not exist yet is
// made empty for its household.
func (a *App) getDraft(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, err := a.loadDraft(id)
	if syncengine.ErrorCode(err) == syncengine.ENOTFOUND && strings.HasPrefix(id, "visit-") {
		hh := strings.TrimPrefix(id, "visit-")
		h, herr := a.c.Get(client.CollectionHouseholds, hh)
		if herr != nil {
			a.fail(w, herr)
			return
		}
		d, err = &draft{ID: id, Kind: "visit", Collection: client.CollectionVisits, HouseholdID: hh, Area: h.Area,
			Values: map[string]string{}}, nil
	}
	if syncengine.ErrorCode(err) == syncengine.ENOTFOUND {
		if nd, ok, nerr := a.newRecordDraft(id); ok {
			d, err = nd, nerr
		}
	}
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// putDraft saves what the form holds now: its inputs, the signature
// strokes and the GPS fix (photos go through their own calls).
func (a *App) putDraft(w http.ResponseWriter, r *http.Request) {
	a.draftMu.Lock()
	defer a.draftMu.Unlock()
	id := r.PathValue("id")
	var req struct {
		Values  map[string]string `json:"values"`
		Strokes []client.Stroke   `json:"strokes"`
		GPS     *client.GPS       `json:"gps"`
	}
	if err := readJSON(r, &req); err != nil {
		a.fail(w, err)
		return
	}
	d, err := a.draftForWrite(id)
	if err != nil {
		a.fail(w, err)
		return
	}
	d.Values, d.Strokes = req.Values, req.Strokes
	if d.Values == nil {
		d.Values = map[string]string{}
	}
	if req.GPS != nil {
		d.GPS = req.GPS
	}
	if err := a.storeDraft(d); err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// draftForWrite loads a draft, or starts a visit draft for its household.
func (a *App) draftForWrite(id string) (*draft, error) {
	d, err := a.loadDraft(id)
	if syncengine.ErrorCode(err) == syncengine.ENOTFOUND && strings.HasPrefix(id, "visit-") {
		hh := strings.TrimPrefix(id, "visit-")
		h, herr := a.c.Get(client.CollectionHouseholds, hh)
		if herr != nil {
			return nil, herr
		}
		return &draft{ID: id, Kind: "visit", Collection: client.CollectionVisits, HouseholdID: hh, Area: h.Area,
			Values: map[string]string{}}, nil
	}
	if syncengine.ErrorCode(err) == syncengine.ENOTFOUND {
		if nd, ok, nerr := a.newRecordDraft(id); ok {
			return nd, nerr
		}
	}
	return d, err
}

func (a *App) deleteDraft(w http.ResponseWriter, r *http.Request) {
	if err := a.dropDraft(r.PathValue("id")); err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": true})
}

func (a *App) dropDraft(id string) error {
	if d, err := a.loadDraft(id); err == nil {
		for _, p := range d.Photos {
			if err := a.c.DeleteDraft(photoKey(id, p.N)); err != nil {
				return err
			}
			if err := a.c.DeleteDraft(evidenceKey(id, p.N)); err != nil {
				return err
			}
		}
	}
	return a.c.DeleteDraft(id)
}

var stages = map[string]bool{"before": true, "during": true, "after": true}

// addDraftPhoto keeps a photo the camera took (the request body) with the
// draft, by stage.
func (a *App) addDraftPhoto(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	stage := r.URL.Query().Get("stage")
	if !stages[stage] {
		writeError(w, http.StatusBadRequest, "EINVALID", "照片阶段须为 before、during 或 after")
		return
	}
	data, err := readBody(r, 40<<20)
	if err != nil {
		a.fail(w, err)
		return
	}
	if ct := http.DetectContentType(data); ct != "image/jpeg" && ct != "image/png" {
		writeError(w, http.StatusBadRequest, "EINVALID", "只接受 JPEG 或 PNG 照片")
		return
	}
	// The evidence copy is made now, outside the draft lock (autosaves
	// go on meanwhile), so that saving the visit does not wait for it.
	evidence, err := photo.CompressForEvidence(data, 0, 0)
	if err != nil {
		writeError(w, http.StatusBadRequest, "EINVALID", fmt.Sprintf("无法读取照片：%v", err))
		return
	}
	a.draftMu.Lock()
	defer a.draftMu.Unlock()
	d, err := a.draftForWrite(id)
	if err != nil {
		a.fail(w, err)
		return
	}
	if len(d.Photos) >= 20 {
		writeError(w, http.StatusBadRequest, "EINVALID", "一次走访最多 20 张照片")
		return
	}
	d.NextPhoto++
	p := draftPhoto{N: d.NextPhoto, Stage: stage, Name: r.URL.Query().Get("name"), Size: len(data)}
	if err := a.c.SaveDraft(photoKey(id, p.N), data); err != nil {
		a.fail(w, err)
		return
	}
	if err := a.c.SaveDraft(evidenceKey(id, p.N), evidence); err != nil {
		a.fail(w, err)
		return
	}
	d.Photos = append(d.Photos, p)
	if err := a.storeDraft(d); err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (a *App) removeDraftPhoto(w http.ResponseWriter, r *http.Request) {
	a.draftMu.Lock()
	defer a.draftMu.Unlock()
	id, n := r.PathValue("id"), atoiOr(r.PathValue("n"), -1)
	d, err := a.loadDraft(id)
	if err != nil {
		a.fail(w, err)
		return
	}
	for i, p := range d.Photos {
		if p.N == n {
			d.Photos = append(d.Photos[:i], d.Photos[i+1:]...)
			break
		}
	}
	if err := a.c.DeleteDraft(photoKey(id, n)); err != nil {
		a.fail(w, err)
		return
	}
	if err := a.c.DeleteDraft(evidenceKey(id, n)); err != nil {
		a.fail(w, err)
		return
	}
	if err := a.storeDraft(d); err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (a *App) draftPhoto(w http.ResponseWriter, r *http.Request) {
	b, err := a.c.Draft(photoKey(r.PathValue("id"), atoiOr(r.PathValue("n"), -1)))
	if err != nil {
		a.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", http.DetectContentType(b))
	_, _ = w.Write(b)
}

// saveDraft turns a draft into records: for a visit, its photos (each a
// photos record with its files queued), the visit citing their evidence
// copies, and the household's signature over the visit; for a fix, the
// corrected record, after which the refused op leaves the rejected list.
// Each record goes to the store and the outbox in one transaction.
func (a *App) saveDraft(w http.ResponseWriter, r *http.Request) {
	a.draftMu.Lock()
	defer a.draftMu.Unlock()
	id := r.PathValue("id")
	d, err := a.loadDraft(id)
	if err != nil {
		a.fail(w, err)
		return
	}
	var saved string
	switch d.Kind {
	case "visit":
		saved, err = a.saveVisit(r, d)
	case "fix":
		saved, err = a.saveFix(r, d)
	case draftRecord:
		saved, err = a.saveRecord(r, d)
	default:
		err = syncengine.Errorf(syncengine.EINVALID, "未知的草稿类型 %q", d.Kind)
	}
	if err != nil {
		a.fail(w, err)
		return
	}
	if err := a.dropDraft(id); err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": saved, "collection": d.Collection})
}

func (a *App) saveVisit(r *http.Request, d *draft) (string, error) {
	ctx := r.Context()
	st, err := a.c.Status()
	if err != nil {
		return "", err
	}
	h, err := a.c.Get(client.CollectionHouseholds, d.HouseholdID)
	if err != nil {
		return "", err
	}
	form, err := BuildForm(a.reg, client.CollectionVisits)
	if err != nil {
		return "", err
	}
	fields, err := form.Values(d.Values)
	if err != nil {
		return "", err
	}
	// Who answered: a member of the household, or a name typed in; never
	// the officer.
	var memberID, name, relation string
	_ = json.Unmarshal(fields["answered_by_member_id"], &memberID)
	_ = json.Unmarshal(fields["answered_by_name"], &name)
	_ = json.Unmarshal(fields["answered_by_relation"], &relation)
	if memberID != "" {
		m, err := a.c.Get(client.CollectionMembers, memberID)
		if err != nil || m.String(client.FieldHousehold) != h.ID {
			return "", syncengine.Errorf(syncengine.EINVALID, "受访人不是这户的家庭成员")
		}
		if name == "" {
			name = m.String("name")
			fields["answered_by_name"], _ = json.Marshal(name)
		}
		if relation == "" && m.String("relation") != "" {
			relation = m.String("relation")
			fields["answered_by_relation"], _ = json.Marshal(relation)
		}
	}
	if memberID == "" && strings.TrimSpace(name) == "" {
		return "", &fieldErr{syncengine.Errorf(syncengine.EINVALID, "请选择或填写受访人"), "answered_by_name"}
	}
	if strings.EqualFold(strings.TrimSpace(name), st.User) {
		return "", &fieldErr{syncengine.Errorf(syncengine.EINVALID, "帮扶干部不能作为受访人：请选择实际回答问题的家庭成员"), "answered_by_name"}
	}
	now := a.c.Now()
	set := func(k string, v any) {
		fields[k], _ = json.Marshal(v)
	}
	set(client.FieldHousehold, h.ID)
	set(client.FieldOfficer, st.User)
	set(client.FieldVisitedAt, now.In(chinaTime).Format(time.RFC3339))
	if d.GPS != nil {
		set("gps", d.GPS)
	}
	if err := a.reg.ValidateRecord(client.CollectionVisits, fields); err != nil {
		return "", a.invalidRecord(err)
	}
	var shas []string
	for _, p := range d.Photos {
		data, err := a.c.Draft(photoKey(d.ID, p.N))
		if err != nil {
			return "", err
		}
		// A draft from before evidence copies were kept has none: made here.
		evidence, err := a.c.Draft(evidenceKey(d.ID, p.N))
		if err != nil {
			evidence = nil
		}
		pid, err := a.c.AttachPhoto(ctx, client.PhotoAttachment{HouseholdID: h.ID, Stage: p.Stage, Original: data, GPS: d.GPS, Evidence: evidence})
		if err != nil {
			return "", err
		}
		rec, err := a.c.Get(client.CollectionPhotos, pid)
		if err != nil {
			return "", err
		}
		if s := rec.String("blob_sha256"); s != "" && !containsStr(shas, s) {
			shas = append(shas, s)
		}
	}
	if len(shas) > 0 {
		set("photo_sha256s", shas)
	}
	vid := a.c.NewID()
	if _, err := a.c.Save(ctx, client.CollectionVisits, vid, h.Area, fields); err != nil {
		return "", err
	}
	if len(d.Strokes) > 0 {
		role := "other"
		if relation == "head" {
			role = "household_head"
		}
		if _, err := a.c.CaptureSignature(ctx, client.SignatureCapture{SignerName: name, SignerRole: role,
			SignedCollection: client.CollectionVisits, SignedRecordID: vid, Purpose: "visit", Strokes: d.Strokes}); err != nil {
			return vid, err
		}
	}
	return vid, nil
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// saveFix saves the corrected values of a refused op: the same record when
// it is not on the tablet (a refused creation) or is mutable, else a new
// record (evidence is append-only), then drops the refused op.
func (a *App) saveFix(r *http.Request, d *draft) (string, error) {
	form, err := BuildForm(a.reg, d.Collection)
	if err != nil {
		return "", err
	}
	fields, err := form.Values(d.Values)
	if err != nil {
		return "", err
	}
	for k, v := range d.Carry {
		if _, ok := fields[k]; !ok {
			fields[k] = v
		}
	}
	id := d.RecordID
	if _, err := a.c.Get(d.Collection, id); err == nil && a.reg.Policy(d.Collection).AppendOnly {
		id = a.c.NewID()
	}
	if _, err := a.c.Save(r.Context(), d.Collection, id, d.Area, fields); err != nil {
		return "", err
	}
	if err := a.c.DismissRejected(d.RejectedOp); err != nil && syncengine.ErrorCode(err) != syncengine.ENOTFOUND {
		return id, err
	}
	return id, nil
}

// fieldErr names the form field an error is about.
type fieldErr struct {
	coded *syncengine.Error
	field string
}

func (e *fieldErr) Error() string { return e.coded.Error() }
func (e *fieldErr) Unwrap() error { return e.coded }

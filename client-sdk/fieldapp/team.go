package fieldapp

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/syncengine"
)

var dutyKinds = map[string]string{"official_trip": "公务出差", "meeting": "会议", "training": "培训", "other": "其他"}

// dutyKindOrder is the order the request form offers the kinds in (a
// JSON object's keys come sorted: 会议 first, 其他 before 培训).
var dutyKindOrder = []string{"official_trip", "meeting", "training", "other"}

// residency is the check-in screen: this month's counted days against the
// policy's figure, the month's check-ins and duty-day requests.
func (a *App) residency(w http.ResponseWriter, r *http.Request) {
	st, err := a.c.Status()
	if err != nil {
		a.fail(w, err)
		return
	}
	now := a.c.Now()
	res, err := a.c.Residency(st.User, now, a.opts.PolicyFiles)
	if err != nil {
		a.fail(w, err)
		return
	}
	month := rules.PeriodOf(rules.UnitMonth, now)
	cks, err := a.c.Query(client.CollectionCheckins, func(v map[string]json.RawMessage) bool {
		var m string
		_ = json.Unmarshal(v["member"], &m)
		return m == st.User
	})
	if err != nil {
		a.fail(w, err)
		return
	}
	list := []map[string]any{}
	for _, c := range cks {
		at, err := time.Parse(time.RFC3339, c.String("at"))
		if err != nil || !month.Contains(at) {
			continue
		}
		var g client.GPS
		_ = json.Unmarshal(c.Values["gps"], &g)
		list = append(list, map[string]any{"id": c.ID, "at": at.In(chinaTime).Format("01-02 15:04"), "lat": g.Lat, "lon": g.Lon,
			"accuracy_m": g.AccuracyM, "pending": c.Pending, "sort": at.Unix()})
	}
	sort.Slice(list, func(i, j int) bool { return list[i]["sort"].(int64) > list[j]["sort"].(int64) })
	dd, err := a.c.Query(client.CollectionDutyDays, func(v map[string]json.RawMessage) bool {
		var m string
		_ = json.Unmarshal(v["member"], &m)
		return m == st.User
	})
	if err != nil {
		a.fail(w, err)
		return
	}
	duty := []map[string]any{}
	for _, d := range dd {
		duty = append(duty, map[string]any{"id": d.ID, "date": d.String("date"), "kind": d.String("kind"),
			"kind_label": dutyKinds[d.String("kind")], "approved": d.String("approved_by") != "", "note": d.String("note"), "pending": d.Pending})
	}
	sort.Slice(duty, func(i, j int) bool { return duty[i]["date"].(string) > duty[j]["date"].(string) })
	options := make([]Option, 0, len(dutyKindOrder))
	for _, k := range dutyKindOrder {
		options = append(options, Option{Value: k, Label: dutyKinds[k]})
	}
	writeJSON(w, http.StatusOK, map[string]any{"residency": res, "checkins": list, "duty_days": duty, "kinds": dutyKinds, "kind_options": options})
}

// checkin records a check-in with one tap: the time now, and the GPS fix
// and accuracy the browser reported.
func (a *App) checkin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Lat       float64 `json:"lat"`
		Lon       float64 `json:"lon"`
		AccuracyM float64 `json:"accuracy_m"`
		Note      string  `json:"note"`
	}
	if err := readJSON(r, &req); err != nil {
		a.fail(w, err)
		return
	}
	st, err := a.c.Status()
	if err != nil {
		a.fail(w, err)
		return
	}
	now := a.c.Now()
	res, err := a.c.Residency(st.User, now, a.opts.PolicyFiles)
	if err != nil {
		a.fail(w, err)
		return
	}
	fields := map[string]any{"member": st.User, "village_code": res.Village, "at": now.In(chinaTime).Format(time.RFC3339),
		"device_time": time.Now().In(chinaTime).Format(time.RFC3339),
		"gps":         client.GPS{Lat: req.Lat, Lon: req.Lon, AccuracyM: req.AccuracyM}}
	if strings.TrimSpace(req.Note) != "" {
		fields["note"] = req.Note
	}
	set, err := encode(fields)
	if err != nil {
		a.fail(w, err)
		return
	}
	id := a.c.NewID()
	if _, err := a.c.Save(r.Context(), client.CollectionCheckins, id, res.Village, set); err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id})
}

// dutyDay requests a duty day (official trip, meeting, training); the
// township approves it on the server.
func (a *App) dutyDay(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Date string `json:"date"`
		Kind string `json:"kind"`
		Note string `json:"note"`
	}
	if err := readJSON(r, &req); err != nil {
		a.fail(w, err)
		return
	}
	if _, ok := dutyKinds[req.Kind]; !ok {
		writeError(w, http.StatusBadRequest, "EINVALID", "请选择外出类型")
		return
	}
	if _, err := rules.ParseDate(req.Date); err != nil {
		writeError(w, http.StatusBadRequest, "EINVALID", "日期无效")
		return
	}
	st, err := a.c.Status()
	if err != nil {
		a.fail(w, err)
		return
	}
	res, err := a.c.Residency(st.User, a.c.Now(), a.opts.PolicyFiles)
	if err != nil {
		a.fail(w, err)
		return
	}
	fields := map[string]any{"member": st.User, "date": req.Date, "kind": req.Kind}
	if strings.TrimSpace(req.Note) != "" {
		fields["note"] = req.Note
	}
	set, err := encode(fields)
	if err != nil {
		a.fail(w, err)
		return
	}
	id := a.c.NewID()
	if _, err := a.c.Save(r.Context(), client.CollectionDutyDays, id, res.Village, set); err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id})
}

func encode(fields map[string]any) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, syncengine.Errorf(syncengine.EINVALID, "%s: %v", k, err)
		}
		out[k] = b
	}
	return out, nil
}

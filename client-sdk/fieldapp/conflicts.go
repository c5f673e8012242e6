package fieldapp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// conflictFetchTimeout bounds the sync screen's own request for the
// conflicts when no sync has fetched them yet (offline it fails fast or
// after this long; the screen is drawn meanwhile).
const conflictFetchTimeout = 5 * time.Second

// resolvedShownFor is how long a decided conflict stays on the sync
// screen after the decision; open ones stay until decided.
const resolvedShownFor = 30 * 24 * time.Hour

// shownConflicts keeps the open conflicts and those decided within
// resolvedShownFor of now.
func shownConflicts(list []client.Conflict, now time.Time) []client.Conflict {
	var out []client.Conflict
	for _, cf := range list {
		if cf.Status == syncengine.ConflictResolved && cf.Resolution != nil && now.Sub(cf.Resolution.At) > resolvedShownFor {
			continue
		}
		out = append(out, cf)
	}
	return out
}

// conflictState is the last list of the server's conflicts that involve
// this tablet's edits: fetched by every sync after its records phase, or
// by the sync screen when no sync has run since the app started.
type conflictState struct {
	mu      sync.Mutex
	fetched bool
	at      time.Time
	list    []client.Conflict
	err     string
}

// refreshConflicts asks the server for the conflicts of this tablet and
// keeps them; on failure it keeps the previous list and says why.
func (a *App) refreshConflicts(ctx context.Context) {
	list, err := a.c.MyConflicts(ctx)
	a.conflicts.mu.Lock()
	defer a.conflicts.mu.Unlock()
	if err != nil {
		a.conflicts.err = "无法从服务器获取冲突：" + a.failureText(err)
		a.log.Warn("fetch conflicts", "err", err)
		return
	}
	a.conflicts.fetched, a.conflicts.at, a.conflicts.list, a.conflicts.err = true, a.opts.Now(), list, ""
}

// conflictView is one conflict as the sync screen shows it.
type conflictView struct {
	ID          string          `json:"id"`
	Status      string          `json:"status"`
	StatusLabel string          `json:"status_label"`
	Record      string          `json:"record"`
	HouseholdID string          `json:"household_id,omitempty"`
	Field       string          `json:"field"`
	FieldLabel  string          `json:"field_label"`
	Mine        []candidateView `json:"mine"`
	Others      []candidateView `json:"others"`
	MineWins    bool            `json:"mine_wins"`
	OpenedAt    string          `json:"opened_at"`
}

type candidateView struct {
	Value  string `json:"value"`
	Author string `json:"author"`
	At     string `json:"at"`
	Winner bool   `json:"winner"`
}

// conflictsList answers the conflicts that involve this tablet's edits
// (open ones, and those decided in the last 30 days): the field, my value
// against the other's, and where the decision stands.
func (a *App) conflictsList(w http.ResponseWriter, r *http.Request) {
	a.conflicts.mu.Lock()
	fetched := a.conflicts.fetched
	a.conflicts.mu.Unlock()
	if !fetched {
		if st, err := a.c.Status(); err == nil && st.Enrolled {
			ctx, cancel := context.WithTimeout(r.Context(), conflictFetchTimeout)
			a.refreshConflicts(ctx)
			cancel()
		}
	}
	a.conflicts.mu.Lock()
	list, at, fetched, errText := a.conflicts.list, a.conflicts.at, a.conflicts.fetched, a.conflicts.err
	a.conflicts.mu.Unlock()
	out := []conflictView{}
	for _, cf := range shownConflicts(list, a.opts.Now()) {
		out = append(out, a.viewConflict(cf))
	}
	resp := map[string]any{"conflicts": out, "fetched": fetched, "error": errText}
	if fetched {
		resp["fetched_at"] = at.In(chinaTime).Format("01-02 15:04")
	}
	writeJSON(w, http.StatusOK, resp)
}

func (a *App) viewConflict(cf client.Conflict) conflictView {
	v := conflictView{ID: cf.ID, Status: cf.Status, Field: cf.Field, FieldLabel: cf.Field, Mine: []candidateView{}, Others: []candidateView{},
		OpenedAt: cf.OpenedAt.In(chinaTime).Format("01-02 15:04")}
	var field *Field
	label := cf.Collection
	if form, err := BuildForm(a.reg, cf.Collection); err == nil {
		label = form.Title
		if field = form.field(cf.Field); field != nil {
			v.FieldLabel = field.Title
		}
	}
	v.Record, v.HouseholdID = a.recordLabel(label, cf.Collection, cf.RecordID)
	// An identity number is shown masked here as on the household screen:
	// the sync screen is no place to read one whole.
	shown := func(raw json.RawMessage) string {
		t := valueText(field, raw)
		if cf.Field == fieldIDNumber {
			t = maskID(t)
		}
		return t
	}
	decided := cf.Status == syncengine.ConflictResolved && cf.Resolution != nil
	for _, cand := range cf.Candidates {
		cv := candidateView{Value: shown(cand.Value), Author: cand.Author, Winner: cand.Winner,
			At: cand.Time.In(chinaTime).Format("01-02 15:04")}
		if decided { // the decision holds now, whichever value the merge kept
			cv.Winner = syncengine.JSONEqual(cand.Value, cf.Resolution.Value)
		}
		if cand.Mine {
			v.Mine = append(v.Mine, cv)
			v.MineWins = v.MineWins || cand.Winner
		} else {
			v.Others = append(v.Others, cv)
		}
	}
	switch {
	case decided:
		whose := "另一个值"
		for _, cand := range cf.Candidates {
			if syncengine.JSONEqual(cand.Value, cf.Resolution.Value) {
				if cand.Mine {
					whose = "我的值"
				} else {
					whose = "对方的值"
				}
				break
			}
		}
		v.StatusLabel = fmt.Sprintf("已裁决：采用%s「%s」（%s，%s）", whose, shown(cf.Resolution.Value),
			cf.Resolution.By, cf.Resolution.At.In(chinaTime).Format("01-02 15:04"))
		if note := strings.TrimSpace(cf.Resolution.Note); note != "" {
			v.StatusLabel += " 说明：" + note
		}
	case v.MineWins:
		v.StatusLabel = "待乡镇审核：目前采用我的值"
	default:
		v.StatusLabel = "待乡镇审核：目前采用对方的值"
	}
	return v
}

// recordLabel names a record for the officer: the household's head for a
// household or a record of one, else the collection and id.
func (a *App) recordLabel(collectionLabel, collection, id string) (string, string) {
	household := ""
	if collection == client.CollectionHouseholds {
		household = id
	} else if rec, err := a.c.Get(collection, id); err == nil {
		household = rec.String(client.FieldHousehold)
	}
	if household != "" {
		if h, err := a.c.Get(client.CollectionHouseholds, household); err == nil && h.String("head_name") != "" {
			if collection == client.CollectionHouseholds {
				return collectionLabel + " " + h.String("head_name"), household
			}
			return collectionLabel + " · " + h.String("head_name") + "户", household
		}
	}
	return collectionLabel + " " + id, household
}

// valueText shows a field's value in words: an enum's Chinese label, a
// group's parts with their titles, 是/否, a list joined by 、; （空） for
// none.
func valueText(f *Field, raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "（空）"
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if f != nil {
			for _, o := range f.Options {
				if o.Value == s {
					return o.Label
				}
			}
		}
		if s == "" {
			return "（空）"
		}
		return s
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		if b {
			return "是"
		}
		return "否"
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		parts := make([]string, len(list))
		for i, x := range list {
			parts[i] = valueText(nil, x)
		}
		return strings.Join(parts, "、")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil && f != nil && len(f.Fields) > 0 {
		var parts []string
		for i := range f.Fields {
			sub := &f.Fields[i]
			key := strings.TrimPrefix(sub.Name, f.Name+".")
			if x, ok := obj[key]; ok {
				if telling(sub, key) {
					parts = append(parts, sub.Title+"："+valueText(sub, x))
				} else {
					parts = append(parts, valueText(sub, x))
				}
			}
		}
		return strings.Join(parts, "，")
	}
	return string(raw)
}

// telling reports whether a group member's title says something: not its
// bare key, nor one of its own values' labels (a schema without a title
// of its own for the member).
func telling(f *Field, key string) bool {
	if f.Title == "" || f.Title == key {
		return false
	}
	for _, o := range f.Options {
		if o.Label == f.Title {
			return false
		}
	}
	return true
}

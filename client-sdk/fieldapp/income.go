package fieldapp

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// incomeWidgets are the income_surveys fields the app fills itself: the
// household, the surveyor (the signed-in user) and the time of the survey.
// Every other field is drawn from the schema like the visit form: the
// wage, business, property and transfer items and the production costs of
// the income formula [000], the household size and the income year.
var incomeWidgets = map[string]string{
	"household_id": widgetAuto,
	"surveyor":     widgetAuto,
	"surveyed_at":  widgetAuto,
}

// Record drafts: a form of a procedure collection started for a
// household, saved as a new record (draft kind "record"). A household's
// income survey draft is "income-<household id>": one at a time, so an
// interrupted survey is continued.
const (
	draftRecord  = "record"
	incomePrefix = "income-"
)

// newRecordDraft starts the draft an id names when it does not exist
// yet: an income survey of the household "income-<household id>", its
// income year preset to the one in progress (1 Oct – 30 Sep [000]) under
// the shipped policy of the household's area, or its next exit step
// "exitstep-<household id>" (newExitStepDraft). ok is false for other ids.
func (a *App) newRecordDraft(id string) (d *draft, ok bool, err error) {
	hh, ok := strings.CutPrefix(id, incomePrefix)
	if !ok {
		return a.newExitStepDraft(id)
	}
	h, err := a.c.Get(client.CollectionHouseholds, hh)
	if err != nil {
		return nil, true, err
	}
	ps, err := rules.DefaultPolicies()
	if err != nil {
		return nil, true, err
	}
	now := a.c.Now()
	year := rules.IncomeYearKey(now, ps.For(h.Area, now.In(chinaTime).Year()).Income)
	return &draft{ID: id, Kind: draftRecord, Collection: collection.IncomeSurveys, HouseholdID: hh, Area: h.Area,
		Values: map[string]string{"income_year": year}}, true, nil
}

// saveRecord saves a record draft as a new record of its collection, with
// the fields the app fills: the household, the signed-in user and now (and
// for an exit step its case and photos). The server judges an exit step
// when it arrives (rules.CheckOp): a refusal comes back to the sync
// screen's rejected list with its reason, to be fixed there.
func (a *App) saveRecord(r *http.Request, d *draft) (string, error) {
	st, err := a.c.Status()
	if err != nil {
		return "", err
	}
	form, err := BuildForm(a.reg, d.Collection)
	if err != nil {
		return "", err
	}
	fields, err := form.Values(d.Values)
	if err != nil {
		return "", err
	}
	set := func(k string, v any) { fields[k], _ = json.Marshal(v) }
	switch d.Collection {
	case collection.IncomeSurveys:
		set(client.FieldHousehold, d.HouseholdID)
		set("surveyor", st.User)
		set("surveyed_at", a.c.Now().In(chinaTime).Format(time.RFC3339))
	case rules.CollectionExitSteps:
		if err := a.fillExitStep(r.Context(), d, st.User, fields); err != nil {
			return "", err
		}
	default:
		return "", syncengine.Errorf(syncengine.EINVALID, "不能在本机新建 %s", d.Collection)
	}
	if err := a.reg.ValidateRecord(d.Collection, fields); err != nil {
		return "", a.invalidRecord(err)
	}
	id := a.c.NewID()
	if _, err := a.c.Save(r.Context(), d.Collection, id, d.Area, fields); err != nil {
		return "", err
	}
	return id, nil
}

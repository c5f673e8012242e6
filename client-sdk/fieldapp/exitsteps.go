package fieldapp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// exitStepWidgets are the exit_steps fields the app fills or draws
// itself: the case, household, actor and time are the app's; the notice's
// posting and end times are local date-time inputs; photos (the meeting,
// the notice board) are taken like a visit's, the first one of a notice
// becoming its notice-board photo; the household's acknowledgement is the
// head's signature on the pad, its record becoming the step's
// signature_id. Every other field (the step, the
// signature counts, the verifiers, the date written on the notice …) is
// drawn from the schema.
var exitStepWidgets = map[string]string{
	"case_id":             widgetAuto,
	"household_id":        widgetAuto,
	"actor":               widgetAuto,
	"at":                  widgetAuto,
	"notice_posted_at":    WidgetDateTime,
	"notice_ends_at":      WidgetDateTime,
	"notice_photo_sha256": widgetAuto,
	"signature_id":        widgetAuto,
	"photo_sha256s":       WidgetPhotos,
}

// exitStepShowWhen shows, for each step, the fields that step records
// (what rules.CheckExitStep reads of it), so the form is not every step's
// fields at once. signature_id stands for the signature pad, which the
// app draws for exit steps and turns into that field.
func exitStepShowWhen() *ShowWhen {
	notice := []string{"notice_posted_at", "notice_ends_at", "notice_dated_as", "photo_sha256s"}
	decision := []string{"passed", "reason"}
	return &ShowWhen{Field: "step", Fields: map[string][]string{
		string(rules.StepAppraisal):          {"entitled", "attended", "signed", "photo_sha256s"},
		string(rules.StepVerification):       {"village_committee_signer", "work_team_signer"},
		string(rules.StepAcknowledgement):    {"signature_id"}, // the signature pad
		string(rules.StepVillageNotice):      notice,
		string(rules.StepTownshipReview):     decision,
		string(rules.StepTownshipNotice):     notice,
		string(rules.StepTownshipApproval):   decision,
		string(rules.StepCountyRegistration): {"registration_ref"},
		string(rules.StepObjection):          {"upheld", "reason"},
	}}
}

// exitStepPrefix names the draft of a household's next exit step.
const exitStepPrefix = "exitstep-"

const localDateTimeLayout = "2006-01-02T15:04"

// parseLocalDateTime reads a datetime-local input ("2026-11-20T08:30", as
// China Standard Time) or an RFC 3339 time, and returns RFC 3339 in China
// Standard Time.
func parseLocalDateTime(s string) (string, error) {
	t, err := time.ParseInLocation(localDateTimeLayout, s, chinaTime)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			return "", fmt.Errorf("date-time %q: %w", s, err)
		}
	}
	return t.In(chinaTime).Format(time.RFC3339), nil
}

// localDateTimeInput is the reverse for a stored RFC 3339 time.
func localDateTimeInput(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.In(chinaTime).Format(localDateTimeLayout)
}

// newExitStepDraft starts the draft of a household's exit step.
func (a *App) newExitStepDraft(id string) (*draft, bool, error) {
	hh, ok := strings.CutPrefix(id, exitStepPrefix)
	if !ok {
		return nil, false, nil
	}
	h, err := a.c.Get(client.CollectionHouseholds, hh)
	if err != nil {
		return nil, true, err
	}
	return &draft{ID: id, Kind: draftRecord, Collection: rules.CollectionExitSteps, HouseholdID: hh, Area: h.Area,
		Values: map[string]string{}}, true, nil
}

// exitCaseOf returns the household's exit case on this tablet: the case
// its latest exit step or exit case record names, else a new one for it.
func (a *App) exitCaseOf(household string) (string, error) {
	latest, latestAt := "", ""
	for _, col := range []string{collection.ExitCases, collection.ExitSteps} {
		recs, err := a.c.Query(col, func(v map[string]json.RawMessage) bool {
			var h string
			return json.Unmarshal(v[client.FieldHousehold], &h) == nil && h == household
		})
		if err != nil {
			return "", err
		}
		for _, r := range recs {
			caseID, at := r.ID, r.String("opened_at")
			if col == rules.CollectionExitSteps {
				caseID, at = r.String("case_id"), r.String("at")
			}
			if caseID != "" && at >= latestAt {
				latest, latestAt = caseID, at
			}
		}
	}
	if latest == "" {
		latest = "exit-" + household
	}
	return latest, nil
}

// fillExitStep sets what the app fills on an exit step: the case, the
// household, the user and now, and the draft's photos (attached as the
// household's evidence): a notice's first photo is its notice-board photo,
// any other step's photos are its photo_sha256s.
func (a *App) fillExitStep(ctx context.Context, d *draft, user string, fields map[string]json.RawMessage) error {
	set := func(k string, v any) { fields[k], _ = json.Marshal(v) }
	caseID, err := a.exitCaseOf(d.HouseholdID)
	if err != nil {
		return err
	}
	set("case_id", caseID)
	set(client.FieldHousehold, d.HouseholdID)
	set("actor", user)
	set("at", a.c.Now().In(chinaTime).Format(time.RFC3339))
	var shas []string
	for _, p := range d.Photos {
		data, err := a.c.Draft(photoKey(d.ID, p.N))
		if err != nil {
			return err
		}
		evidence, err := a.c.Draft(evidenceKey(d.ID, p.N))
		if err != nil {
			evidence = nil
		}
		pid, err := a.c.AttachPhoto(ctx, client.PhotoAttachment{HouseholdID: d.HouseholdID, Stage: p.Stage, Original: data, Evidence: evidence})
		if err != nil {
			return err
		}
		rec, err := a.c.Get(client.CollectionPhotos, pid)
		if err != nil {
			return err
		}
		if s := rec.String("blob_sha256"); s != "" && !containsStr(shas, s) {
			shas = append(shas, s)
		}
	}
	var step string
	_ = json.Unmarshal(fields["step"], &step)
	notice := rules.ExitStepKind(step) == rules.StepVillageNotice || rules.ExitStepKind(step) == rules.StepTownshipNotice
	switch {
	case notice && len(shas) > 0:
		set("notice_photo_sha256", shas[0])
		if len(shas) > 1 {
			set("photo_sha256s", shas[1:])
		}
	case len(shas) > 0:
		set("photo_sha256s", shas)
	}
	if notice && len(shas) == 0 {
		return &fieldErr{syncengine.Errorf(syncengine.EINVALID, "公示须拍摄公示栏照片"), "photo_sha256s"}
	}
	if rules.ExitStepKind(step) == rules.StepAcknowledgement {
		if len(d.Strokes) == 0 {
			return syncengine.Errorf(syncengine.EINVALID, "拟退出户认可须由户主在下面签字")
		}
		h, err := a.c.Get(client.CollectionHouseholds, d.HouseholdID)
		if err != nil {
			return err
		}
		sig, err := a.c.CaptureSignature(ctx, client.SignatureCapture{SignerName: h.String("head_name"), SignerRole: "household_head",
			SignedCollection: client.CollectionHouseholds, SignedRecordID: d.HouseholdID, Purpose: "other", Strokes: d.Strokes})
		if err != nil {
			return err
		}
		set("signature_id", sig)
	}
	return nil
}

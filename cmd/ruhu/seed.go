package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// The demo county is fictional but shaped like a real one: area codes under
// Anhui (34), a county 340199 with two townships and three villages.
const (
	demoCounty   = "340199"
	demoPassword = "ruhu-demo-2026"
)

var demoVillages = []struct{ code, name, township string }{
	{"340199001001", "桃园村", "340199001"},
	{"340199001002", "李家村", "340199001"},
	{"340199002001", "河湾村", "340199002"},
}

var demoSurnames = []string{"张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙"}
var demoGiven = []string{"建国", "秀英", "桂兰", "德明", "玉珍", "志强", "凤英", "国华", "淑珍", "永福", "春梅", "大山"}

// demoUsers are the seeded accounts; all share demoPassword.
var demoUsers = []core.UserInput{
	{Username: "admin", Role: "admin", Scopes: []string{""}, DisplayName: "系统管理员"},
	{Username: "county", Role: "county", Scopes: []string{demoCounty}, DisplayName: "县扶贫办"},
	{Username: "township1", Role: "township", Scopes: []string{"340199001"}, DisplayName: "一乡扶贫工作站"},
	{Username: "wang", Role: "officer", Scopes: []string{"340199001"}, DisplayName: "王帮扶"},
	{Username: "li", Role: "officer", Scopes: []string{"340199001"}, DisplayName: "李帮扶"},
	{Username: "zhao", Role: "team_member", Scopes: []string{"340199001001"}, DisplayName: "赵队员"},
	{Username: "sun", Role: "team_member", Scopes: []string{"340199001001"}, DisplayName: "孙书记"},
	{Username: "auditor", Role: "auditor", Scopes: []string{demoCounty}, DisplayName: "检查组"},
}

// seedDemo writes the demo county into an empty store through the
// application core, held to the schemas and the append-only rule like any
// other writer; a store that has users already is left alone, so
// restarting the demo keeps its data. Every id and stamp is fixed, so two
// seeded stores are identical.
func seedDemo(store *boltstore.Store, now time.Time) error {
	return seedDemoInto(store.Core(), now)
}

// seedDemoInto is seedDemo into any store (bbolt or PostgreSQL).
func seedDemoInto(store core.Store, now time.Time) error {
	ctx := context.Background()
	reg, err := schemas.New()
	if err != nil {
		return err
	}
	app := core.New(slog.New(slog.DiscardHandler), store, reg, core.Options{Now: func() time.Time { return now }})
	users, err := app.Users(ctx, core.Operator())
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return nil
	}
	// Several servers started at once on one empty PostgreSQL database
	// all find no users and seed together: an account another one added
	// first is theirs (ECONFLICT), and core.Load skips ops already applied,
	// so every seeder ends with the same county and none fails to start.
	for _, u := range demoUsers {
		u.Password = demoPassword
		if _, err := app.AddUser(ctx, core.Operator(), u); err != nil && !errors.Is(err, core.ErrUserExists) {
			return fmt.Errorf("user %s: %w", u.Username, err)
		}
	}
	base := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC).UnixMilli()
	n := 0
	var ops []*syncengine.Op
	addBy := func(author, col, id, area string, fields map[string]any) {
		n++
		set := map[string]json.RawMessage{}
		for k, v := range fields {
			b, _ := json.Marshal(v)
			set[k] = b
		}
		ops = append(ops, &syncengine.Op{ID: fmt.Sprintf("seed-%05d", n), RecordID: id, Collection: col, Area: area,
			Author: author, Device: "seed", HLC: syncengine.MakeHLC(base+int64(n), 0), Set: set, ReceivedAt: now.UTC()})
	}
	add := func(col, id, area string, fields map[string]any) { addBy("seed", col, id, area, fields) }
	centers := [][2]float64{{31.7051, 117.1402}, {31.7188, 117.1610}, {31.6520, 117.2033}}
	for vi, v := range demoVillages {
		add(collection.Villages, "v"+v.code, v.code, map[string]any{"code": v.code, "name": v.name, "township_code": v.township,
			"center": map[string]any{"lat": centers[vi][0], "lon": centers[vi][1], "accuracy_m": 10}, "geofence_m": 800})
		for h := 1; h <= 4; h++ {
			idx := vi*4 + h - 1
			hid := fmt.Sprintf("h%s%02d", v.code, h)
			status := map[string]any{"value": "exited", "year": 2019}
			if h == 4 {
				status = map[string]any{"value": "monitored", "year": 2025}
			}
			add(collection.Households, hid, v.code, map[string]any{"head_name": demoSurnames[idx] + demoGiven[idx], "status": status,
				"address": fmt.Sprintf("%s%d组%d号", v.name, h, 10+h), "member_count": 2 + h%3, "primary_cause": "illness",
				"phone": fmt.Sprintf("1380551%04d", 1000+idx)})
			add(collection.Members, "m"+hid, v.code, map[string]any{"household_id": hid, "name": demoSurnames[idx] + demoGiven[idx], "relation": "head"})
		}
	}
	team := demoVillages[0].code
	add(collection.Teams, "t"+team, team, map[string]any{"village_code": team, "name": "桃园村驻村工作队", "members": []string{"sun", "zhao"}, "first_secretary": "sun"})
	// wang and li both help the first household of 桃园村: the demo shows
	// what happens when both edit it offline.
	for i, a := range []struct{ officer, hh string }{
		{"wang", "h34019900100101"}, {"wang", "h34019900100102"}, {"wang", "h34019900100103"},
		{"li", "h34019900100101"}, {"li", "h34019900100201"}, {"li", "h34019900100202"},
	} {
		add(collection.Assignments, fmt.Sprintf("a%02d", i+1), a.hh[1:13], map[string]any{"officer": a.officer, "household_id": a.hh, "active": true})
	}
	seedDemoFieldWork(addBy, centers[0], demoReportPeriod(now))
	seedDemoExit(addBy, now)
	if _, err := app.Load(ctx, ops); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	return nil
}

// demoReportPeriod is the month the demo reports on: the last full month
// before now, so that the rules judge a month that has ended.
func demoReportPeriod(now time.Time) rules.Period {
	return rules.PeriodOf(rules.UnitMonth, rules.PeriodOf(rules.UnitMonth, now).Start.Add(-time.Nanosecond))
}

// The findings the demo county's field work makes in its report month.
const (
	demoOverdueHousehold = "h34019900200104" // 河湾村's monitored household: not visited
	demoShortMember      = "zhao"            // 12 check-in days and 2 approved duty days of 20
	demoHousingHousehold = "h34019900100202" // 李家村: its renovation case lacks the after photo, a photo file and the acceptance
)

// seedDemoFieldWork writes a month of field work, the same for the same
// month: a visit to every household but demoOverdueHousehold (so the
// half-yearly visits of exited households are done too), 22 days of
// check-ins by the first secretary of 桃园村 and 12 (plus one outside the
// village and two approved duty days) by demoShortMember, and a housing
// case with only a before photo record, whose file never reached the
// server.
func seedDemoFieldWork(addBy func(author, col, id, area string, fields map[string]any), center [2]float64, month rules.Period) {
	day := func(d, hour, minute int) string {
		return month.Start.AddDate(0, 0, d-1).Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute).Format(time.RFC3339)
	}
	checklist := map[string]string{"food": "ok", "clothing": "ok", "education": "ok", "medical": "ok", "housing": "ok", "drinking_water": "ok"}
	for vi, v := range demoVillages {
		officer := "wang"
		if vi > 0 {
			officer = "li"
		}
		for h := 1; h <= 4; h++ {
			hid := fmt.Sprintf("h%s%02d", v.code, h)
			if hid == demoOverdueHousehold {
				continue
			}
			addBy(officer, collection.Visits, "vis-"+hid+"-"+month.Label, v.code, map[string]any{"household_id": hid, "officer": officer,
				"visited_at": day(3+vi*4+h, 10, 0), "checklist": checklist, "answered_by_member_id": "m" + hid, "answered_by_relation": "head",
				"notes": "例行走访，情况稳定。"})
		}
	}
	village := demoVillages[0].code
	checkin := func(member string, d int, latOffset float64) {
		addBy(member, collection.Checkins, fmt.Sprintf("ck-%s-%s-%02d", member, month.Label, d), village, map[string]any{
			"member": member, "village_code": village, "at": day(d, 8, 10+d),
			"gps": map[string]any{"lat": center[0] + latOffset, "lon": center[1], "accuracy_m": 12}})
	}
	for d := 1; d <= 22; d++ {
		checkin("sun", d, 0)
	}
	for d := 1; d <= 12; d++ {
		checkin(demoShortMember, d, 0)
	}
	checkin(demoShortMember, 13, 0.05) // about 5.5 km away: not in the village
	for i, kind := range []string{"training", "meeting", "other"} {
		d := 14 + i
		addBy("township1", collection.DutyDays, fmt.Sprintf("dd-%s-%s-%02d", demoShortMember, month.Label, d), village, map[string]any{
			"member": demoShortMember, "date": month.Start.AddDate(0, 0, d-1).Format(time.DateOnly), "kind": kind, "approved_by": "township1"})
	}
	caseID, caseArea := "hc"+demoHousingHousehold[1:], demoHousingHousehold[1:13]
	addBy("li", collection.HousingCases, caseID, caseArea, map[string]any{"household_id": demoHousingHousehold, "grade": "C", "build_mode": "repair"})
	sum := sha256.Sum256([]byte("demo photo " + caseID))
	addBy("li", collection.Photos, "ph-"+caseID+"-before", caseArea, map[string]any{"blob_sha256": hex.EncodeToString(sum[:]),
		"case_id": caseID, "household_id": demoHousingHousehold, "stage": "before", "captured_at": day(2, 15, 0)})
}

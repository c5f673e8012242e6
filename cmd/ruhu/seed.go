package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/boltstore"
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
var demoUsers = []server.UserInput{
	{Username: "admin", Role: "admin", Scopes: []string{""}, DisplayName: "系统管理员"},
	{Username: "county", Role: "county", Scopes: []string{demoCounty}, DisplayName: "县扶贫办"},
	{Username: "township1", Role: "township", Scopes: []string{"340199001"}, DisplayName: "一乡扶贫工作站"},
	{Username: "wang", Role: "officer", Scopes: []string{"340199001"}, DisplayName: "王帮扶"},
	{Username: "li", Role: "officer", Scopes: []string{"340199001"}, DisplayName: "李帮扶"},
	{Username: "zhao", Role: "team_member", Scopes: []string{"340199001001"}, DisplayName: "赵队员"},
	{Username: "sun", Role: "team_member", Scopes: []string{"340199001001"}, DisplayName: "孙书记"},
	{Username: "auditor", Role: "auditor", Scopes: []string{demoCounty}, DisplayName: "检查组"},
}

// seedDemo writes the demo county into an empty store; a store that has
// users already is left alone, so restarting the demo keeps its data. Every
// id and stamp is fixed, so two seeded stores are identical.
func seedDemo(store *boltstore.Store, now time.Time) error {
	var users int
	if err := store.View(func(tx *boltstore.Tx) error {
		us, err := tx.Users()
		users = len(us)
		return err
	}); err != nil {
		return err
	}
	if users > 0 {
		return nil
	}
	for _, u := range demoUsers {
		u.Password = demoPassword
		if err := server.AddUser(store, u, now); err != nil {
			return fmt.Errorf("user %s: %w", u.Username, err)
		}
	}
	base := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC).UnixMilli()
	n := 0
	var ops []*syncengine.Op
	add := func(col, id, area string, fields map[string]any) {
		n++
		set := map[string]json.RawMessage{}
		for k, v := range fields {
			b, _ := json.Marshal(v)
			set[k] = b
		}
		ops = append(ops, &syncengine.Op{ID: fmt.Sprintf("seed-%05d", n), RecordID: id, Collection: col, Area: area,
			Author: "seed", Device: "seed", HLC: syncengine.MakeHLC(base+int64(n), 0), Set: set, ReceivedAt: now.UTC()})
	}
	centers := [][2]float64{{31.7051, 117.1402}, {31.7188, 117.1610}, {31.6520, 117.2033}}
	for vi, v := range demoVillages {
		add("villages", "v"+v.code, v.code, map[string]any{"code": v.code, "name": v.name, "township_code": v.township,
			"center": map[string]any{"lat": centers[vi][0], "lon": centers[vi][1], "accuracy_m": 10}, "geofence_m": 800})
		for h := 1; h <= 4; h++ {
			idx := vi*4 + h - 1
			hid := fmt.Sprintf("h%s%02d", v.code, h)
			status := map[string]any{"value": "exited", "year": 2019}
			if h == 4 {
				status = map[string]any{"value": "monitored", "year": 2025}
			}
			add("households", hid, v.code, map[string]any{"head_name": demoSurnames[idx] + demoGiven[idx], "status": status,
				"address": fmt.Sprintf("%s%d组%d号", v.name, h, 10+h), "member_count": 2 + h%3, "primary_cause": "illness",
				"phone": fmt.Sprintf("1380551%04d", 1000+idx)})
			add("members", "m"+hid, v.code, map[string]any{"household_id": hid, "name": demoSurnames[idx] + demoGiven[idx], "relation": "head"})
		}
	}
	team := demoVillages[0].code
	add("teams", "t"+team, team, map[string]any{"village_code": team, "name": "桃园村驻村工作队", "members": []string{"sun", "zhao"}, "first_secretary": "sun"})
	// wang and li both help the first household of 桃园村: the demo shows
	// what happens when both edit it offline.
	for i, a := range []struct{ officer, hh string }{
		{"wang", "h34019900100101"}, {"wang", "h34019900100102"}, {"wang", "h34019900100103"},
		{"li", "h34019900100101"}, {"li", "h34019900100201"}, {"li", "h34019900100202"},
	} {
		add("assignments", fmt.Sprintf("a%02d", i+1), a.hh[1:13], map[string]any{"officer": a.officer, "household_id": a.hh, "active": true})
	}
	return store.UpdateSolo(func(tx *boltstore.Tx) error {
		for _, op := range ops {
			if _, err := syncengine.Apply(tx, op, syncengine.MergePolicy{}, now); err != nil {
				return fmt.Errorf("seed %s: %w", op.ID, err)
			}
		}
		return nil
	})
}

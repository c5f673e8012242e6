package client

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing/fstest"
	"time"

	bolt "go.etcd.io/bbolt"
	"gopkg.in/yaml.v3"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Collections of the work team's records.
const (
	CollectionCheckins = collection.Checkins
	CollectionDutyDays = collection.DutyDays
	CollectionTeams    = collection.Teams
	CollectionVillages = collection.Villages
)

// ResidencyMonth is a work-team member's residency in one month as this
// tablet knows it: the days that count toward the policy's figure.
type ResidencyMonth struct {
	Member string
	// Village and VillageName are the member's team's village.
	Village, VillageName string
	// Month is the month's label (2026-11); Required the policy's days.
	Month    string
	Required int
	// Days counts distinct local dates with a counted check-in or an
	// approved duty day; CheckinDays and DutyDays overlap when both fell
	// on one day. NotCounted is check-ins that did not count (outside the
	// geofence, poor or unknown accuracy, impossible travel).
	Days, CheckinDays, DutyDays, NotCounted int
}

// Residency counts the member's residency days in the month containing now
// by the same rule as the server's report (rules.CheckResidency: distinct
// China-time dates, a check-in inside the village geofence with accuracy
// within the policy, or an approved duty day of a counted kind), over the
// check-ins, duty days, team and village records on this tablet, its own
// unsynced check-ins included. policyFiles are the jurisdiction's policy
// files laid over the shipped ones (nil: the shipped ones alone). The
// server's receipt time is unknown here, so the clock check of the report
// (device time ahead of receipt) cannot apply.
//
// Codes: ENOTFOUND (the member is on no team on this tablet), EREVOKED.
func (c *Client) Residency(member string, now time.Time, policyFiles fs.FS) (ResidencyMonth, error) {
	var in rules.Input
	var team *rules.Team
	err := c.view(func(tx *bolt.Tx, cd codec) error {
		teams, err := c.scan(tx, cd, CollectionTeams, nil)
		if err != nil {
			return err
		}
		for _, t := range teams {
			var members []string
			_ = json.Unmarshal(t.Values[collection.Members], &members)
			first := t.String("first_secretary")
			if first == member || slices.Contains(members, member) {
				team = &rules.Team{VillageCode: t.String("village_code"), Members: members, FirstSecretary: first}
				break
			}
		}
		if team == nil {
			return syncengine.Errorf(syncengine.ENOTFOUND, "%s 不在本设备已知的任何驻村工作队中（请先同步）", member)
		}
		in.Teams = []rules.Team{*team}
		villages, err := c.scan(tx, cd, CollectionVillages, func(v map[string]json.RawMessage) bool {
			return jsonString(v["code"]) == team.VillageCode
		})
		if err != nil {
			return err
		}
		for _, v := range villages {
			var center GPS
			_ = json.Unmarshal(v.Values["center"], &center)
			var radius float64
			_ = json.Unmarshal(v.Values["geofence_m"], &radius)
			in.Villages = append(in.Villages, rules.Village{Code: team.VillageCode, Name: v.String("name"),
				Lat: center.Lat, Lon: center.Lon, GeofenceM: radius})
		}
		checkins, err := c.scan(tx, cd, CollectionCheckins, func(v map[string]json.RawMessage) bool {
			return jsonString(v["member"]) == member
		})
		if err != nil {
			return err
		}
		for _, ck := range checkins {
			at, err := time.Parse(time.RFC3339, ck.String("at"))
			if err != nil {
				continue
			}
			var g GPS
			_ = json.Unmarshal(ck.Values["gps"], &g)
			in.Checkins = append(in.Checkins, rules.Checkin{ID: ck.ID, Member: member, VillageCode: ck.String("village_code"),
				At: at, ReceivedAt: at, Lat: g.Lat, Lon: g.Lon, AccuracyM: g.AccuracyM})
		}
		duty, err := c.scan(tx, cd, CollectionDutyDays, func(v map[string]json.RawMessage) bool {
			return jsonString(v["member"]) == member
		})
		if err != nil {
			return err
		}
		for _, d := range duty {
			date, err := rules.ParseDate(d.String("date"))
			if err != nil {
				continue
			}
			in.DutyDays = append(in.DutyDays, rules.DutyDay{Member: member, Date: date, Kind: d.String("kind"), ApprovedBy: d.String("approved_by")})
		}
		return nil
	})
	if err != nil {
		return ResidencyMonth{}, err
	}
	real, err := rules.LoadPolicies(policyFiles)
	if err != nil {
		return ResidencyMonth{}, err
	}
	month := rules.PeriodOf(rules.UnitMonth, now)
	out := ResidencyMonth{Member: member, Village: team.VillageCode, Month: month.Label,
		Required: real.For(team.VillageCode, month.Year()).Residency.DaysPerMonth}
	if len(in.Villages) > 0 {
		out.VillageName = in.Villages[0].Name
	}
	// The report lists only members short of the policy's days, so the
	// count is taken under a policy asking for 31: every member is listed
	// with their days, unless they counted all 31 days of a 31-day month.
	counting, err := countingPolicies(policyFiles, team.VillageCode)
	if err != nil {
		return ResidencyMonth{}, err
	}
	in.AsOf = month.End
	short, _, _ := rules.CheckResidency(&in, counting, month)
	for _, f := range short {
		if f.Member == member {
			out.Days, out.CheckinDays, out.DutyDays, out.NotCounted = f.Days, f.CheckinDays, f.DutyDays, f.NotCounted
			return out, nil
		}
	}
	days := int(month.End.Sub(month.Start).Hours()/24 + 0.5)
	out.Days, out.CheckinDays = days, days
	return out, nil
}

// countingPolicies is the policy files with the village's residency
// figure raised to 31 days (the most specific prefix wins key by key).
func countingPolicies(policyFiles fs.FS, village string) (*rules.PolicySet, error) {
	files := fstest.MapFS{}
	if policyFiles != nil {
		entries, err := fs.ReadDir(policyFiles, ".")
		if err != nil {
			return nil, fmt.Errorf("read policy files: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
				continue
			}
			b, err := fs.ReadFile(policyFiles, path.Join(".", e.Name()))
			if err != nil {
				return nil, fmt.Errorf("read policy %s: %w", e.Name(), err)
			}
			files[e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	// Every file of the village's own prefix (any year) gets the figure,
	// so whichever is chosen for the month carries it; other keys stay.
	own := false
	for name, f := range files {
		stem := strings.TrimSuffix(strings.TrimSuffix(name, ".yaml"), ".yml")
		if p, _, _ := strings.Cut(stem, "-"); p != village {
			continue
		}
		own = true
		doc := map[string]any{}
		if err := yaml.Unmarshal(f.Data, &doc); err != nil {
			return nil, fmt.Errorf("policy %s: %w", name, err)
		}
		res, _ := doc["residency"].(map[string]any)
		if res == nil {
			res = map[string]any{}
		}
		res["days_per_month"] = 31
		doc["residency"] = res
		b, err := yaml.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", name, err)
		}
		files[name] = &fstest.MapFile{Data: b}
	}
	if !own {
		files[village+".yaml"] = &fstest.MapFile{Data: []byte("residency:\n  days_per_month: 31\n")}
	}
	return rules.LoadPolicies(files)
}

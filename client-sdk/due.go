package client

import (
	"encoding/json"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/chinatime"
	"github.com/ruhu-dev/ruhu/rules"
)

// VisitState is where a household stands against its visit cadence.
type VisitState string

// Visit states, from the most to the least urgent. They follow the
// cadence's calendar windows (a month for a monitored household, a
// half-year for an exited one, by the policy of its jurisdiction), the same
// windows rules.CheckVisitCadence and the county report judge by.
const (
	// VisitOverdue: the last window that ended had fewer visits than the
	// cadence asks, and the current one has not made up for it yet.
	VisitOverdue VisitState = "overdue"
	// VisitDueSoon: the current window is still short and ends within the
	// policy's due_soon_days.
	VisitDueSoon VisitState = "due_soon"
	// VisitDue: the current window is still short.
	VisitDue VisitState = "due"
	// VisitDone: the current window has its visits.
	VisitDone VisitState = "done"
	// VisitNotRequired: the household's status needs no visits (removed).
	VisitNotRequired VisitState = "not_required"
)

// Rank orders states by urgency: 0 is the most urgent.
func (s VisitState) Rank() int {
	switch s {
	case VisitOverdue:
		return 0
	case VisitDueSoon:
		return 1
	case VisitDue:
		return 2
	case VisitDone:
		return 3
	}
	return 4
}

// Label is the state in Chinese, as the field app shows it.
func (s VisitState) Label() string {
	switch s {
	case VisitOverdue:
		return "已逾期"
	case VisitDueSoon:
		return "即将到期"
	case VisitDue:
		return "待走访"
	case VisitDone:
		return "本期已走访"
	}
	return "无需走访"
}

// HouseholdDue is one of my households and its visit state now.
type HouseholdDue struct {
	Household *RecordView
	// Status is the household's status value (poor, exited, monitored...).
	Status string
	State  VisitState
	// Cadence is the policy's cadence for the status (zero when not
	// required); WindowEnd is the end of the current window.
	Cadence   rules.Cadence
	WindowEnd time.Time
	// LastVisit is the latest visited_at on this tablet; zero when never.
	LastVisit time.Time
}

// VisitStateOf judges one household: status is its status value, visits
// the visited_at of its visits (any order), now the judging instant.
func VisitStateOf(pol rules.VisitPolicy, status string, visits []time.Time, now time.Time) (VisitState, rules.Cadence, time.Time) {
	cad, ok := pol.For(rules.Status(status))
	if !ok {
		return VisitNotRequired, rules.Cadence{}, time.Time{}
	}
	cur := rules.PeriodOf(cad.Per, now)
	prev := rules.PeriodOf(cad.Per, cur.Start.Add(-time.Nanosecond))
	inCur, inPrev := 0, 0
	for _, v := range visits {
		switch {
		case cur.Contains(v):
			inCur++
		case prev.Contains(v):
			inPrev++
		}
	}
	need := max(cad.Min, 1)
	switch {
	case inCur >= need:
		return VisitDone, cad, cur.End
	case inPrev < need:
		return VisitOverdue, cad, cur.End
	case pol.DueSoonDays > 0 && cur.End.Sub(now) <= time.Duration(pol.DueSoonDays)*24*time.Hour:
		return VisitDueSoon, cad, cur.End
	}
	return VisitDue, cad, cur.End
}

// HouseholdsDue returns my households with their visit state at now under
// policies (the tablet's copy of the jurisdiction's policy files), the
// most urgent first: overdue, due soon, due, done; within a state, the
// longest-waiting first. Visits saved on this tablet count at once, before
// they sync.
//
// Codes: EUNAUTHORIZED (nobody logged in), EREVOKED.
func (c *Client) HouseholdsDue(now time.Time, policies *rules.PolicySet) ([]HouseholdDue, error) {
	var out []HouseholdDue
	err := c.view(func(tx *bolt.Tx, cd codec) error {
		mine, err := c.myHouseholds(tx, cd)
		if err != nil {
			return err
		}
		visits, err := c.visitTimes(tx, cd)
		if err != nil {
			return err
		}
		for _, h := range mine {
			var st struct {
				Value string `json:"value"`
			}
			_ = json.Unmarshal(h.Values["status"], &st)
			times := visits[h.ID]
			state, cad, end := VisitStateOf(policies.For(h.Area, now.In(chinatime.Zone()).Year()).Visits, st.Value, times, now)
			d := HouseholdDue{Household: h, Status: st.Value, State: state, Cadence: cad, WindowEnd: end}
			for _, t := range times {
				if t.After(d.LastVisit) {
					d.LastVisit = t
				}
			}
			out = append(out, d)
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := out[i].State.Rank(), out[j].State.Rank(); ri != rj {
			return ri < rj
		}
		return out[i].LastVisit.Before(out[j].LastVisit)
	})
	return out, err
}

// LastVisits returns, for every household with a visit on this tablet, the
// latest visited_at (visits with an unreadable time are ignored).
//
// Codes: EREVOKED.
func (c *Client) LastVisits() (map[string]time.Time, error) {
	var out map[string]time.Time
	err := c.view(func(tx *bolt.Tx, cd codec) error {
		times, err := c.visitTimes(tx, cd)
		if err != nil {
			return err
		}
		out = make(map[string]time.Time, len(times))
		for hh, list := range times {
			for _, t := range list {
				if t.After(out[hh]) {
					out[hh] = t
				}
			}
		}
		return nil
	})
	return out, err
}

// visitTimes returns the visited_at of every live visit, by household.
func (c *Client) visitTimes(tx *bolt.Tx, cd codec) (map[string][]time.Time, error) {
	visits, err := c.scan(tx, cd, CollectionVisits, nil)
	if err != nil {
		return nil, err
	}
	out := map[string][]time.Time{}
	for _, v := range visits {
		at, err := time.Parse(time.RFC3339, v.String(FieldVisitedAt))
		if err != nil {
			continue
		}
		hh := v.String(FieldHousehold)
		out[hh] = append(out[hh], at)
	}
	return out, nil
}

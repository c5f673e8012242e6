package rules

import (
	"sort"
	"time"
)

// CheckVisitCadence lists households whose home visits fall short of the
// cadence their policy sets for their status (exited: at least one visit in
// every half-year [000]).
//
// The windows judged are the cadence's calendar windows (months, quarters,
// half-years, years) that overlap the period and have started by the
// judging instant (Input.AsOf, or the period's end). A window that ended by
// then with fewer visits than required makes the household overdue; the
// window in progress makes it due soon when it ends within the policy's
// due-soon days and is still short. Visits anywhere in a window count, even
// outside the period. One finding per household: overdue lists every missed
// window and takes precedence over due soon.
//
// A household is judged by its status at the end of the period: an exited
// household whose ExitedAt is after the period's end was still poor then,
// and one that exited during the period is judged as exited for the whole
// period. Removed households are not judged.
func CheckVisitCadence(in *Input, policies *PolicySet, period Period) (overdue, dueSoon []VisitFinding) {
	return checkVisitCadence(in, newIndex(in), policies, period)
}

// statusAt returns the status a household had at instant t.
func statusAt(h *Household, t time.Time) Status {
	if h.Status == StatusExited && h.ExitedAt != nil && !h.ExitedAt.Before(t) {
		return StatusPoor
	}
	return h.Status
}

func checkVisitCadence(in *Input, ix *index, policies *PolicySet, period Period) (overdue, dueSoon []VisitFinding) {
	judge := judgeAt(period, in.AsOf)
	judgeDate := DateOf(judge)
	if !judge.After(period.Start) {
		return nil, nil
	}
	windows := map[Unit][]Period{}
	for _, u := range []Unit{UnitMonth, UnitQuarter, UnitHalfYear, UnitYear} {
		for _, w := range period.Split(u) {
			if w.Start.Before(judge) {
				windows[u] = append(windows[u], w)
			}
		}
	}
	pc := newPolicyCache(policies)
	year := period.Year()
	for hi := range in.Households {
		h := &in.Households[hi]
		status := statusAt(h, period.End)
		pol := pc.get(h.Area, year)
		cad, ok := pol.Visits.For(status)
		if !ok {
			continue
		}
		vis := ix.visitsOf(hi)
		// Latest visit before the judging instant.
		last := sort.Search(len(vis), func(i int) bool { return !in.Visits[vis[i]].At.Before(judge) }) - 1
		var f *VisitFinding
		pos := 0
		for _, w := range windows[cad.Per] {
			for pos < len(vis) && in.Visits[vis[pos]].At.Before(w.Start) {
				pos++
			}
			n := 0
			for j := pos; j < len(vis) && in.Visits[vis[j]].At.Before(w.End) && in.Visits[vis[j]].At.Before(judge); j++ {
				n++
			}
			if n >= cad.Min {
				continue
			}
			if !w.End.After(judge) { // window over: missed
				if f == nil {
					f = newVisitFinding(KindVisitOverdue, h, status, cad, &in.Visits, vis, last)
					f.DueBy = w.LastDay()
					f.DaysOverdue = judgeDate.DaysSince(f.DueBy)
					f.VisitsInWindow = n
				}
				f.MissedWindows = append(f.MissedWindows, w.Label)
				continue
			}
			// Window in progress.
			due := w.LastDay()
			left := due.DaysSince(judgeDate)
			if f == nil && left <= pol.Visits.DueSoonDays {
				d := newVisitFinding(KindVisitDueSoon, h, status, cad, &in.Visits, vis, last)
				d.DueBy, d.DaysLeft, d.VisitsInWindow = due, left, n
				dueSoon = append(dueSoon, *d)
			}
		}
		if f != nil {
			overdue = append(overdue, *f)
		}
	}
	return overdue, dueSoon
}

func newVisitFinding(k Kind, h *Household, s Status, cad Cadence, visits *[]Visit, vis []int32, last int) *VisitFinding {
	f := &VisitFinding{Kind: k, Area: h.Area, HouseholdID: h.ID, HeadName: h.HeadName, Status: s, Required: cad}
	if last >= 0 {
		v := &(*visits)[vis[last]]
		f.LastVisit, f.LastVisitID = DateOf(v.At), v.ID
	}
	return f
}

package rules

import "time"

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

// cadenceWindow is one calendar window of a cadence unit, in Unix seconds
// for cheap comparisons (window bounds are whole seconds).
type cadenceWindow struct {
	start, end int64
	period     Period
}

func checkVisitCadence(in *Input, ix *index, policies *PolicySet, period Period) (overdue, dueSoon []VisitFinding) {
	judge := judgeAt(period, in.AsOf)
	judgeUnix := judge.Unix()
	judgeDate := DateOf(judge)
	if !judge.After(period.Start) {
		return nil, nil
	}
	units := []Unit{UnitMonth, UnitQuarter, UnitHalfYear, UnitYear}
	windows := make([][]cadenceWindow, len(units))
	maxWindows := 1
	for ui, u := range units {
		for _, w := range period.Split(u) {
			if w.Start.Before(judge) {
				windows[ui] = append(windows[ui], cadenceWindow{start: w.Start.Unix(), end: w.End.Unix(), period: w})
			}
		}
		maxWindows = max(maxWindows, len(windows[ui]))
	}
	pc := newPolicyCache(policies)
	year := period.Year()
	// Per household: the unit judged (-1: not judged), visit counts per
	// window and the latest visit before the judging instant.
	unitOf := make([]int8, len(in.Households))
	counts := make([]uint16, len(in.Households)*maxWindows)
	last := make([]int32, len(in.Households))
	lastAt := make([]int64, len(in.Households))
	for hi := range in.Households {
		h := &in.Households[hi]
		last[hi] = -1
		unitOf[hi] = -1
		if cad, ok := pc.get(h.Area, year).Visits.For(statusAt(h, period.End)); ok {
			for ui, u := range units {
				if u == cad.Per {
					unitOf[hi] = int8(ui)
				}
			}
		}
	}
	for vi := range in.Visits {
		hi := ix.visitHousehold[vi]
		if hi < 0 || unitOf[hi] < 0 {
			continue
		}
		t := in.Visits[vi].At.Unix()
		if t >= judgeUnix {
			continue
		}
		if last[hi] < 0 || t > lastAt[hi] {
			last[hi], lastAt[hi] = int32(vi), t
		}
		for wi, w := range windows[unitOf[hi]] {
			if t >= w.start && t < w.end {
				if c := &counts[int(hi)*maxWindows+wi]; *c < 65535 {
					*c++
				}
				break
			}
		}
	}
	for hi := range in.Households {
		if unitOf[hi] < 0 {
			continue
		}
		h := &in.Households[hi]
		status := statusAt(h, period.End)
		pol := pc.get(h.Area, year)
		cad, _ := pol.Visits.For(status)
		var f *VisitFinding
		for wi, w := range windows[unitOf[hi]] {
			n := int(counts[hi*maxWindows+wi])
			if n >= cad.Min {
				continue
			}
			if w.end <= judgeUnix { // window over: missed
				if f == nil {
					f = newVisitFinding(KindVisitOverdue, h, status, cad, in.Visits, last[hi])
					f.DueBy = w.period.LastDay()
					f.DaysOverdue = judgeDate.DaysSince(f.DueBy)
					f.VisitsInWindow = n
				}
				f.MissedWindows = append(f.MissedWindows, w.period.Label)
				continue
			}
			// Window in progress.
			due := w.period.LastDay()
			left := due.DaysSince(judgeDate)
			if f == nil && left <= pol.Visits.DueSoonDays {
				d := newVisitFinding(KindVisitDueSoon, h, status, cad, in.Visits, last[hi])
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

func newVisitFinding(k Kind, h *Household, s Status, cad Cadence, visits []Visit, last int32) *VisitFinding {
	f := &VisitFinding{Kind: k, Area: h.Area, HouseholdID: h.ID, HeadName: h.HeadName, Status: s, Required: cad}
	if last >= 0 {
		v := &visits[last]
		f.LastVisit, f.LastVisitID = DateOf(v.At), v.ID
	}
	return f
}

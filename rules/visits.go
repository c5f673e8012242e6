package rules

import (
	"math"
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
// outside the period, listed (Input.Visits) or tallied (Input.VisitTallies).
// One finding per household: overdue lists every missed window and takes
// precedence over due soon; it names the household's latest visit before
// the judging instant (of two at the same second, the smaller id).
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
	units := []Unit{UnitMonth, UnitTwoMonths, UnitQuarter, UnitHalfYear, UnitYear}
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
	minOf := make([]int32, len(in.Households)) // the cadence's minimum per window
	counts := make([]uint32, len(in.Households)*maxWindows)
	last := make([]latestVisit, len(in.Households))
	for hi := range in.Households {
		h := &in.Households[hi]
		unitOf[hi] = -1
		if cad, ok := pc.get(h.Area, year).Visits.For(statusAt(h, period.End)); ok {
			minOf[hi] = int32(min(cad.Min, math.MaxInt32))
			for ui, u := range units {
				if u == cad.Per {
					unitOf[hi] = int8(ui)
				}
			}
		}
	}
	count := func(hi int32, t int64, n uint32) {
		for wi, w := range windows[unitOf[hi]] {
			if t >= w.start && t < w.end {
				counts[int(hi)*maxWindows+wi] += n
				break
			}
		}
	}
	for vi := range in.Visits {
		hi := ix.visitHousehold[vi]
		if hi < 0 || unitOf[hi] < 0 {
			continue
		}
		v := &in.Visits[vi]
		t := v.At.Unix()
		if t >= judgeUnix {
			continue
		}
		last[hi].offer(t, v.ID, v.At)
		count(hi, t, 1)
	}
	for ti := range in.VisitTallies {
		tl := &in.VisitTallies[ti]
		hi, ok := ix.household[tl.HouseholdID]
		if !ok || unitOf[hi] < 0 {
			continue
		}
		if t := tl.LastAt.Unix(); !tl.LastAt.IsZero() && t < judgeUnix {
			last[hi].offer(t, tl.LastID, tl.LastAt)
		}
		for m, n := range tl.Months {
			if n <= 0 {
				continue
			}
			if start := time.Date(tl.Year, time.Month(m+1), 1, 0, 0, 0, 0, shanghai).Unix(); start < judgeUnix {
				count(hi, start, uint32(n))
			}
		}
	}
	// The overdue households are counted first, so that a county's tens
	// of thousands of findings are made in place, not copied as the list
	// grows.
	n := 0
	for hi := range in.Households {
		if unitOf[hi] < 0 {
			continue
		}
		for wi, w := range windows[unitOf[hi]] {
			if w.end <= judgeUnix && int32(min(counts[hi*maxWindows+wi], 65535)) < minOf[hi] {
				n++
				break
			}
		}
	}
	if n > 0 {
		overdue = make([]VisitFinding, 0, n)
	}
	for hi := range in.Households {
		if unitOf[hi] < 0 {
			continue
		}
		h := &in.Households[hi]
		status := statusAt(h, period.End)
		pol := pc.get(h.Area, year)
		cad, _ := pol.Visits.For(status)
		var f *VisitFinding // in overdue
		for wi, w := range windows[unitOf[hi]] {
			n := int(min(counts[hi*maxWindows+wi], 65535))
			if n >= cad.Min {
				continue
			}
			if w.end <= judgeUnix { // window over: missed
				if f == nil {
					overdue = append(overdue, newVisitFinding(KindVisitOverdue, h, status, cad, &last[hi]))
					f = &overdue[len(overdue)-1]
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
				d := newVisitFinding(KindVisitDueSoon, h, status, cad, &last[hi])
				d.DueBy, d.DaysLeft, d.VisitsInWindow = due, left, n
				dueSoon = append(dueSoon, d)
			}
		}
	}
	return overdue, dueSoon
}

// latestVisit is the latest visit of a household seen so far.
type latestVisit struct {
	set  bool
	unix int64 // at in Unix seconds, as the rule compares visit times
	id   string
	at   time.Time
}

// offer makes a visit the latest when it is later than the one held, or
// as late and of a smaller id (a household's latest visit is the same
// whether its visits are listed, tallied or both, in any order).
func (l *latestVisit) offer(unix int64, id string, at time.Time) {
	if !l.set || unix > l.unix || unix == l.unix && id < l.id {
		*l = latestVisit{set: true, unix: unix, id: id, at: at}
	}
}

func newVisitFinding(k Kind, h *Household, s Status, cad Cadence, last *latestVisit) VisitFinding {
	f := VisitFinding{Kind: k, Area: h.Area, HouseholdID: h.ID, HeadName: h.HeadName, Status: s, Required: cad}
	if last.set {
		f.LastVisit, f.LastVisitID = DateOf(last.at), last.id
	}
	return f
}

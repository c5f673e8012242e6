package console

import (
	"net/http"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// calCell is one square of a month calendar; Day 0 pads the first and
// last week.
type calCell struct {
	Day int
	ResidencyDate
}

type memberCalendar struct {
	MemberMonth
	Weeks [][]calCell
}

type residencyData struct {
	Area    string
	Period  rules.Period
	Periods []periodOption
	Members []memberCalendar
}

// residency shows each team member's month as a calendar (weeks start
// on Monday, as Chinese calendars do).
func (c *Console) residency(w http.ResponseWriter, r *http.Request, rq *request) {
	area, period, err := c.areaAndPeriod(r, rq.User)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	if period.Unit != rules.UnitMonth {
		c.fail(w, r, rq, syncengine.Errorf(syncengine.EINVALID, "驻村日历按月查看，统计期应为 2026-11 这样的月份"))
		return
	}
	list, err := c.backend.Residency(r.Context(), rq.User, area, period)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	d := residencyData{Area: area, Period: period}
	for _, o := range periodChoices(c.opts.Now(), period.Label) {
		if p, err := rules.ParsePeriod(o.Label); err == nil && p.Unit == rules.UnitMonth {
			d.Periods = append(d.Periods, o)
		}
	}
	first := period.Start.In(rules.Shanghai())
	lead := (int(first.Weekday()) + 6) % 7 // days before the 1st in a Monday-first week
	for _, m := range list {
		mc := memberCalendar{MemberMonth: m}
		week := make([]calCell, lead)
		for i, day := range m.Dates {
			week = append(week, calCell{Day: i + 1, ResidencyDate: day})
			if len(week) == 7 {
				mc.Weeks = append(mc.Weeks, week)
				week = nil
			}
		}
		if len(week) > 0 {
			week = append(week, make([]calCell, 7-len(week))...)
			mc.Weeks = append(mc.Weeks, week)
		}
		d.Members = append(d.Members, mc)
	}
	c.render(w, r, http.StatusOK, "residency", rq, "驻村考勤", d)
}

// dutyLabel names a duty-day kind in Chinese.
func dutyLabel(kind string) string {
	switch kind {
	case "training":
		return "培训"
	case "meeting":
		return "会议"
	case "business_trip", "trip":
		return "出差"
	case "leave":
		return "请假"
	}
	return kind
}

// weekdayNames heads the calendar columns, Monday first.
var weekdayNames = [7]string{"一", "二", "三", "四", "五", "六", "日"}

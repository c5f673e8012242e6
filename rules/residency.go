package rules

import (
	"math"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"time"
)

// CheckResidency judges work-team residency: every member of every team
// must spend at least the policy's days in the village in each month of
// the period [001]. Only months that ended by the judging instant
// (Input.AsOf, or the period's end) are judged.
//
// A day counts when it is a distinct local date (China Standard Time) with
// either a trusted check-in inside the geofence of the team's village
// (haversine distance ≤ the village's radius, or the policy radius when the
// village sets none, and GPS accuracy known and ≤ the policy limit), or an
// approved duty day of a kind the policy counts.
//
// A check-in is not trusted, and is reported on its own, when its device
// time is after the server's receipt by more than the policy allows (or,
// when the policy sets an upload delay, received later than that), or when
// reaching it from the member's previous trusted check-in needs a speed
// above the policy's maximum. The distance for that speed is reduced by
// both check-ins' GPS accuracy, so GPS noise alone never flags one, and
// check-ins less than a minute apart are taken as a minute apart.
// Check-ins are reported when their device time or their receipt falls in
// the period.
func CheckResidency(in *Input, policies *PolicySet, period Period) (short []ResidencyFinding, clock []ClockFinding, travel []TravelFinding) {
	judge := judgeAt(period, in.AsOf)
	pc := newPolicyCache(policies)

	// Group check-ins by member, oldest first.
	byMember := map[string][]int32{}
	for i := range in.Checkins {
		m := in.Checkins[i].Member
		byMember[m] = append(byMember[m], int32(i))
	}
	trusted := make([]bool, len(in.Checkins))
	members := make([]string, 0, len(byMember))
	for m := range byMember {
		members = append(members, m)
	}
	sort.Strings(members)
	inPeriod := func(c *Checkin) bool {
		return (period.Contains(c.At) && c.At.Before(judge)) || (period.Contains(c.ReceivedAt) && c.ReceivedAt.Before(judge))
	}
	for _, m := range members {
		list := byMember[m]
		slices.SortFunc(list, func(a, b int32) int {
			ca, cb := &in.Checkins[a], &in.Checkins[b]
			if c := ca.At.Compare(cb.At); c != 0 {
				return c
			}
			return strings.Compare(ca.ID, cb.ID)
		})
		prev := -1
		for _, ci := range list {
			c := &in.Checkins[ci]
			pol := pc.get(c.VillageCode, DateOf(c.At).Year)
			ahead := c.At.Sub(c.ReceivedAt)
			limit := time.Duration(pol.Checkin.MaxClockAheadMinutes) * time.Minute
			delayLimit := time.Duration(pol.Checkin.MaxUploadDelayHours) * time.Hour
			if ahead > limit || (delayLimit > 0 && -ahead > delayLimit) {
				if inPeriod(c) {
					lim := pol.Checkin.MaxClockAheadMinutes
					if ahead < 0 {
						lim = pol.Checkin.MaxUploadDelayHours * 60
					}
					clock = append(clock, ClockFinding{Kind: KindCheckinClock, Area: c.VillageCode, CheckinID: c.ID,
						Member: c.Member, At: c.At, ReceivedAt: c.ReceivedAt,
						AheadMinutes: int(ahead / time.Minute), LimitMinutes: lim})
				}
				continue
			}
			if prev >= 0 {
				p := &in.Checkins[prev]
				dist := DistanceM(p.Lat, p.Lon, c.Lat, c.Lon)
				slack := math.Max(p.AccuracyM, 0) + math.Max(c.AccuracyM, 0)
				eff := dist - slack
				// A GPS fix and the tablet clock are good to about a minute:
				// two check-ins closer in time are taken as a minute apart.
				hours := math.Max(c.At.Sub(p.At).Hours(), 1.0/60)
				if eff > 0 {
					speed := eff / 1000 / hours
					if speed > pol.Checkin.MaxTravelKmh {
						if inPeriod(c) {
							travel = append(travel, TravelFinding{Kind: KindCheckinTravel, Area: c.VillageCode,
								CheckinID: c.ID, Member: c.Member, At: c.At, PreviousID: p.ID,
								PreviousArea: p.VillageCode, PreviousAt: p.At,
								DistanceKm: math.Round(dist/10) / 100, SpeedKmh: math.Round(speed*10) / 10,
								MaxKmh: pol.Checkin.MaxTravelKmh})
						}
						continue
					}
				}
			}
			trusted[ci] = true
			prev = int(ci)
		}
	}

	dutyByMember := map[string][]int32{}
	for i := range in.DutyDays {
		dutyByMember[in.DutyDays[i].Member] = append(dutyByMember[in.DutyDays[i].Member], int32(i))
	}
	villages := make(map[string]*Village, len(in.Villages))
	for i := range in.Villages {
		villages[in.Villages[i].Code] = &in.Villages[i]
	}
	var months []Period
	for _, mo := range period.Split(UnitMonth) {
		if !mo.End.After(judge) {
			months = append(months, mo)
		}
	}
	if len(months) == 0 {
		return nil, clock, travel
	}
	// The months' bounds in Unix seconds: China Standard Time has no
	// daylight saving time, so a month's days are 86,400 s each from its
	// start, and a time's month and day follow from its Unix second
	// (bounds are whole seconds, so its floor compares as the time does).
	bounds := make([][3]int64, len(months)) // start, end, the start of the calendar month
	for i, mo := range months {
		y, m, _ := mo.Start.In(shanghai).Date()
		bounds[i] = [3]int64{mo.Start.Unix(), mo.End.Unix(), time.Date(y, m, 1, 0, 0, 0, 0, shanghai).Unix()}
	}
	monthOf := func(t time.Time) (int, int) { // month position and day-1, or -1
		u := t.Unix()
		for i, b := range bounds {
			if u >= b[0] && u < b[1] {
				return i, int((u - b[2]) / 86400)
			}
		}
		return -1, 0
	}
	checkinDays := make([]uint32, len(months))
	dutyDays := make([]uint32, len(months))
	notCounted := make([]int, len(months))
	for ti := range in.Teams {
		t := &in.Teams[ti]
		v := villages[t.VillageCode]
		for _, m := range teamMembers(t) {
			clear(checkinDays)
			clear(dutyDays)
			clear(notCounted)
			for _, ci := range byMember[m] {
				c := &in.Checkins[ci]
				mi, day := monthOf(c.At)
				if mi < 0 {
					continue
				}
				pol := pc.get(t.VillageCode, months[mi].Year())
				radius := pol.Checkin.GeofenceM
				if v != nil && v.GeofenceM > 0 {
					radius = v.GeofenceM
				}
				ok := trusted[ci] && v != nil && c.AccuracyM > 0 && c.AccuracyM <= pol.Checkin.MaxAccuracyM &&
					DistanceM(v.Lat, v.Lon, c.Lat, c.Lon) <= radius
				if ok {
					checkinDays[mi] |= 1 << day
				} else {
					notCounted[mi]++
				}
			}
			for _, di := range dutyByMember[m] {
				d := &in.DutyDays[di]
				if d.ApprovedBy == "" || d.Date.IsZero() {
					continue
				}
				mi, day := monthOf(d.Date.Start())
				if mi < 0 || !pc.get(t.VillageCode, months[mi].Year()).Residency.Counts(d.Kind) {
					continue
				}
				dutyDays[mi] |= 1 << day
			}
			for mi, mo := range months {
				pol := pc.get(t.VillageCode, mo.Year())
				days := bits.OnesCount32(checkinDays[mi] | dutyDays[mi])
				if days >= pol.Residency.DaysPerMonth {
					continue
				}
				f := ResidencyFinding{Kind: KindResidencyShort, Area: t.VillageCode, Member: m, Month: mo.Label,
					Days: days, Required: pol.Residency.DaysPerMonth, CheckinDays: bits.OnesCount32(checkinDays[mi]),
					DutyDays: bits.OnesCount32(dutyDays[mi]), NotCounted: notCounted[mi]}
				if v != nil {
					f.VillageName = v.Name
				}
				short = append(short, f)
			}
		}
	}
	return short, clock, travel
}

// teamMembers returns the team's distinct members, first secretary
// included, in a stable order (first secretary first).
func teamMembers(t *Team) []string {
	out := make([]string, 0, len(t.Members)+1)
	seen := make(map[string]bool, len(t.Members)+1)
	for _, m := range append([]string{t.FirstSecretary}, t.Members...) {
		if m != "" && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

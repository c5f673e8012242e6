package rules

import (
	"sync"
	"time"
)

// Kind is the stable code of a finding; callers and reports branch on it.
type Kind string

// Finding kinds, in the order reports list them.
const (
	KindVisitOverdue       Kind = "visit_overdue"
	KindVisitDueSoon       Kind = "visit_due_soon"
	KindResidencyShort     Kind = "residency_short"
	KindCheckinClock       Kind = "checkin_clock"
	KindCheckinTravel      Kind = "checkin_travel"
	KindCaseloadExceeded   Kind = "caseload_exceeded"
	KindTeamTooSmall       Kind = "team_too_small"
	KindAnsweredByOther    Kind = "answered_by_non_member"
	KindHousingEvidenceGap Kind = "housing_evidence_missing"
)

// Kinds returns every finding kind in report order.
func Kinds() []Kind {
	return []Kind{KindVisitOverdue, KindVisitDueSoon, KindResidencyShort, KindCheckinClock,
		KindCheckinTravel, KindCaseloadExceeded, KindTeamTooSmall, KindAnsweredByOther, KindHousingEvidenceGap,
		KindTeamDutyMissed, KindDoctorVisitOverdue}
}

// Title returns the kind's Chinese title, as shown to county staff.
func (k Kind) Title() string {
	switch k {
	case KindVisitOverdue:
		return "走访逾期"
	case KindVisitDueSoon:
		return "走访即将到期"
	case KindResidencyShort:
		return "驻村天数不足"
	case KindCheckinClock:
		return "签到时间异常"
	case KindCheckinTravel:
		return "签到位置异常"
	case KindCaseloadExceeded:
		return "帮扶户数超限"
	case KindTeamTooSmall:
		return "工作队人数不足"
	case KindAnsweredByOther:
		return "非本户成员应答"
	case KindHousingEvidenceGap:
		return "危房改造资料不全"
	case KindTeamDutyMissed:
		return "工作队“四个一”未落实"
	case KindDoctorVisitOverdue:
		return "家庭医生走访不足"
	case KindLedgerOverdue:
		return "台账问题逾期未整改"
	case KindExitStandardsUnmet:
		return "已启动退出但未达脱贫标准"
	}
	return string(k)
}

// Finding is what every finding type shares: its kind and the 12-digit area
// code it is counted under in roll-ups.
type Finding interface {
	FindingKind() Kind
	FindingArea() string
}

// VisitFinding is a household whose visits fall short of its cadence: an
// overdue one (a window ended without enough visits) or one due soon (the
// current window ends within the due-soon days without enough visits).
type VisitFinding struct {
	Kind        Kind   `json:"kind"`
	Area        string `json:"area"`
	HouseholdID string `json:"household_id"`
	HeadName    string `json:"head_name"`
	// Status is the status the household was judged by: its status at the
	// end of the period.
	Status   Status  `json:"status"`
	Required Cadence `json:"required"`
	// LastVisit is the date of the latest visit before the judging instant
	// (zero if none) and LastVisitID its record.
	LastVisit   Date   `json:"last_visit"`
	LastVisitID string `json:"last_visit_id,omitempty"`
	// DueBy is the last day of the earliest missed window (overdue) or of
	// the current window (due soon).
	DueBy Date `json:"due_by"`
	// DaysOverdue counts days from DueBy to the judging date (overdue only).
	DaysOverdue int `json:"days_overdue"`
	// DaysLeft counts days from the judging date to DueBy (due soon only).
	DaysLeft int `json:"days_left"`
	// MissedWindows labels every window that ended short ("2026-08").
	MissedWindows []string `json:"missed_windows,omitempty"`
	// VisitsInWindow is the number of visits in the current window (due
	// soon) or in the earliest missed window (overdue).
	VisitsInWindow int `json:"visits_in_window"`
}

// ResidencyFinding is a team member who spent fewer days than required in
// the village in one month.
type ResidencyFinding struct {
	Kind        Kind   `json:"kind"`
	Area        string `json:"area"`
	VillageName string `json:"village_name"`
	Member      string `json:"member"`
	Month       string `json:"month"`
	// Days is the number of distinct local dates counted: CheckinDays and
	// DutyDays overlap when a member checked in on a duty day.
	Days        int `json:"days"`
	Required    int `json:"required"`
	CheckinDays int `json:"checkin_days"`
	DutyDays    int `json:"duty_days"`
	// NotCounted is the number of the member's check-ins that month that did
	// not count: outside the geofence, poor or unknown accuracy, or flagged.
	NotCounted int `json:"not_counted"`
}

// ClockFinding is a check-in whose device time disagrees with the server's
// receipt: stated later than received (tablet clock ahead), or received
// later than the policy allows. It does not count toward residency.
type ClockFinding struct {
	Kind       Kind      `json:"kind"`
	Area       string    `json:"area"`
	CheckinID  string    `json:"checkin_id"`
	Member     string    `json:"member"`
	At         time.Time `json:"at"`
	ReceivedAt time.Time `json:"received_at"`
	// AheadMinutes is how far the device time was after the receipt
	// (negative: the check-in reached the server that long after).
	AheadMinutes int `json:"ahead_minutes"`
	// LimitMinutes is the limit broken, in minutes.
	LimitMinutes int `json:"limit_minutes"`
}

// TravelFinding is a check-in that implies moving from the same member's
// previous accepted check-in faster than possible. It does not count
// toward residency; the previous one still does.
type TravelFinding struct {
	Kind         Kind      `json:"kind"`
	Area         string    `json:"area"`
	CheckinID    string    `json:"checkin_id"`
	Member       string    `json:"member"`
	At           time.Time `json:"at"`
	PreviousID   string    `json:"previous_id"`
	PreviousArea string    `json:"previous_area"`
	PreviousAt   time.Time `json:"previous_at"`
	DistanceKm   float64   `json:"distance_km"`
	SpeedKmh     float64   `json:"speed_kmh"`
	MaxKmh       float64   `json:"max_kmh"`
}

// CaseloadFinding is an officer with more active households than allowed.
type CaseloadFinding struct {
	Kind Kind `json:"kind"`
	// Area is the village holding most of the officer's households (the
	// lowest code on a tie): where the roll-up counts the finding.
	Area         string   `json:"area"`
	Officer      string   `json:"officer"`
	Households   int      `json:"households"`
	Limit        int      `json:"limit"`
	HouseholdIDs []string `json:"household_ids"`
}

// TeamFinding is a village work team smaller than required.
type TeamFinding struct {
	Kind           Kind     `json:"kind"`
	Area           string   `json:"area"`
	VillageName    string   `json:"village_name"`
	Members        []string `json:"members"`
	FirstSecretary string   `json:"first_secretary"`
	Size           int      `json:"size"`
	Required       int      `json:"required"`
}

// Reasons an answerer is not a registered member (AnswerFinding.Reason).
const (
	ReasonUnknownMemberID = "member_id_not_in_household"
	ReasonNameNotMember   = "name_not_in_household"
	ReasonNoAnswerer      = "no_answerer"
)

// ReasonLabel returns a Reason code in Chinese.
func ReasonLabel(reason string) string {
	switch reason {
	case ReasonUnknownMemberID:
		return "应答人编号不属于本户"
	case ReasonNameNotMember:
		return "应答人姓名不在本户成员中"
	case ReasonNoAnswerer:
		return "未记录应答人"
	}
	return reason
}

// AnswerFinding is a visit where the person who answered is not a
// registered member of the household: seeds report cadres answering for
// households [001].
type AnswerFinding struct {
	Kind               Kind      `json:"kind"`
	Area               string    `json:"area"`
	VisitID            string    `json:"visit_id"`
	HouseholdID        string    `json:"household_id"`
	HeadName           string    `json:"head_name"`
	Officer            string    `json:"officer"`
	At                 time.Time `json:"at"`
	AnsweredByMemberID string    `json:"answered_by_member_id"`
	AnsweredByName     string    `json:"answered_by_name"`
	Reason             string    `json:"reason"`
}

// HousingFinding is a housing renovation case whose evidence is incomplete.
type HousingFinding struct {
	Kind        Kind     `json:"kind"`
	Area        string   `json:"area"`
	CaseID      string   `json:"case_id"`
	HouseholdID string   `json:"household_id"`
	HeadName    string   `json:"head_name"`
	Grade       string   `json:"grade"`
	Missing     []string `json:"missing"`
}

// FindingKind implements Finding.
func (f VisitFinding) FindingKind() Kind { return f.Kind }

// FindingArea implements Finding.
func (f VisitFinding) FindingArea() string { return f.Area }

// FindingKind implements Finding.
func (f ResidencyFinding) FindingKind() Kind { return f.Kind }

// FindingArea implements Finding.
func (f ResidencyFinding) FindingArea() string { return f.Area }

// FindingKind implements Finding.
func (f ClockFinding) FindingKind() Kind { return f.Kind }

// FindingArea implements Finding.
func (f ClockFinding) FindingArea() string { return f.Area }

// FindingKind implements Finding.
func (f TravelFinding) FindingKind() Kind { return f.Kind }

// FindingArea implements Finding.
func (f TravelFinding) FindingArea() string { return f.Area }

// FindingKind implements Finding.
func (f CaseloadFinding) FindingKind() Kind { return f.Kind }

// FindingArea implements Finding.
func (f CaseloadFinding) FindingArea() string { return f.Area }

// FindingKind implements Finding.
func (f TeamFinding) FindingKind() Kind { return f.Kind }

// FindingArea implements Finding.
func (f TeamFinding) FindingArea() string { return f.Area }

// FindingKind implements Finding.
func (f AnswerFinding) FindingKind() Kind { return f.Kind }

// FindingArea implements Finding.
func (f AnswerFinding) FindingArea() string { return f.Area }

// FindingKind implements Finding.
func (f HousingFinding) FindingKind() Kind { return f.Kind }

// FindingArea implements Finding.
func (f HousingFinding) FindingArea() string { return f.Area }

// Findings holds every finding of one run, list by list.
type Findings struct {
	VisitOverdue   []VisitFinding     `json:"visit_overdue"`
	VisitDueSoon   []VisitFinding     `json:"visit_due_soon"`
	ResidencyShort []ResidencyFinding `json:"residency_short"`
	CheckinClock   []ClockFinding     `json:"checkin_clock"`
	CheckinTravel  []TravelFinding    `json:"checkin_travel"`
	Caseload       []CaseloadFinding  `json:"caseload_exceeded"`
	TeamTooSmall   []TeamFinding      `json:"team_too_small"`
	AnsweredBy     []AnswerFinding    `json:"answered_by_non_member"`
	HousingGaps    []HousingFinding   `json:"housing_evidence_missing"`
	TeamDuties     []TeamDutyFinding  `json:"team_duty_missed"`
	DoctorVisits   []DoctorFinding    `json:"doctor_visit_overdue"`
}

// Check runs every rule over one input for one period, sharing the
// indexes the rules need (households by id and the household of every
// visit are looked up once). The rules only read the input, so Check runs
// them on separate goroutines; the result does not depend on scheduling.
func Check(in *Input, policies *PolicySet, period Period) Findings {
	var f Findings
	var wg sync.WaitGroup
	wg.Go(func() {
		f.ResidencyShort, f.CheckinClock, f.CheckinTravel = CheckResidency(in, policies, period)
		f.TeamTooSmall = CheckTeamSize(in, policies, period)
		f.TeamDuties = CheckTeamDuties(in, policies, period)
	})
	ix := newIndex(in)
	wg.Go(func() {
		f.Caseload = checkCaseload(in, ix, policies, period)
		f.HousingGaps = checkHousing(in, ix)
		f.AnsweredBy = checkAnsweredBy(in, ix, period)
		f.DoctorVisits = checkDoctorVisits(in, ix, policies, period)
	})
	f.VisitOverdue, f.VisitDueSoon = checkVisitCadence(in, ix, policies, period)
	wg.Wait()
	return f
}

// judgeAt is the instant a period is judged at: asOf when inside the
// period, else the period's end.
func judgeAt(p Period, asOf time.Time) time.Time {
	if asOf.IsZero() || !asOf.Before(p.End) {
		return p.End
	}
	return asOf
}

// policyCache memoises PolicySet.For within one rule run: a county has a
// few hundred villages but a hundred thousand households.
type policyCache struct {
	set *PolicySet
	m   map[policyKey]*Policy
}

type policyKey struct {
	area string
	year int
}

func newPolicyCache(set *PolicySet) *policyCache {
	return &policyCache{set: set, m: map[policyKey]*Policy{}}
}

func (c *policyCache) get(area string, year int) *Policy {
	k := policyKey{area, year}
	if p, ok := c.m[k]; ok {
		return p
	}
	p := c.set.For(area, year)
	c.m[k] = &p
	return &p
}

package rules

import "time"

// Status is a household's poverty status. The values are stable codes
// (the households schema's status.value); this is their one home, with
// their Chinese labels, for the server, the importer, the SDK and the CLI.
type Status string

// Household statuses (DOMAIN.md "Records").
const (
	StatusPoor      Status = "poor"      // 未脱贫
	StatusExited    Status = "exited"    // 已脱贫
	StatusMonitored Status = "monitored" // 监测户
	StatusFellBack  Status = "fellback"  // 返贫
	StatusRemoved   Status = "removed"   // 已销号 (no longer followed)
)

// Label returns the status in Chinese; an unknown code is returned as it
// is.
func (s Status) Label() string {
	switch s {
	case StatusPoor:
		return "未脱贫"
	case StatusExited:
		return "已脱贫"
	case StatusMonitored:
		return "监测户"
	case StatusFellBack:
		return "返贫"
	case StatusRemoved:
		return "已销号"
	}
	return string(s)
}

// Household is a registered household (建档立卡户) as the rules see it.
type Household struct {
	ID string
	// Area is the 12-digit code of the household's village.
	Area     string
	HeadName string
	Status   Status
	// StatusYear is the year the status was set (the exit year for exited
	// households).
	StatusYear int
	// ExitedAt is when the household exited, if known. A household whose
	// status is exited but whose ExitedAt is after the end of a period was
	// still in poverty during it, and is judged as poor for that period.
	ExitedAt *time.Time
	Members  []MemberRef
	// AssignedOfficers is carried for display; the caseload rule counts
	// Assignment records, which say whether an assignment is active.
	AssignedOfficers []string
}

// MemberRef names a registered member of a household by record id.
type MemberRef struct {
	ID   string
	Name string
}

// Visit is a home visit (走访记录) as the rules see it.
type Visit struct {
	ID          string
	HouseholdID string
	Officer     string
	At          time.Time
	// AnsweredByMemberID is the member record who answered, if chosen from
	// the household's member list; AnsweredByName is the name as typed when
	// no member was chosen.
	AnsweredByMemberID string
	AnsweredByName     string
}

// VisitTally stands for visits of one household in one calendar year
// (China Standard Time) that the input counts rather than lists: a
// county's million visits are mostly needed only as counts per window and
// as the household's latest visit. The cadence rule counts a tally's
// visits as it counts listed visits and takes its Last as a candidate for
// the household's latest visit; the answerer rule does not see them. So a
// caller tallies only visits before the judging instant that the answerer
// rule has nothing to say about: visits outside the period, and visits
// answered by a member of the household (AnsweredByMemberID among its
// Members). Visits the cadence rule cannot count (in years without a
// window) may be left out of a tally when they are not the latest.
type VisitTally struct {
	HouseholdID string
	Year        int
	// Months counts the visits by calendar month, January first.
	Months [12]int32
	// LastID and LastAt are the latest of the visits (on a tie, the
	// smallest id); LastAt is zero for a tally of no visit.
	LastID string
	LastAt time.Time
}

// Checkin is a work-team member's residency check-in (驻村签到).
type Checkin struct {
	ID          string
	Member      string
	VillageCode string
	// At is the time the tablet stated; ReceivedAt is when the server got
	// the check-in.
	At         time.Time
	ReceivedAt time.Time
	Lat, Lon   float64
	// AccuracyM is the reported GPS accuracy radius in metres; 0 or less
	// means unknown, and such a check-in does not count.
	AccuracyM float64
}

// Village is a village with the centre and radius of its geofence.
type Village struct {
	Code     string
	Name     string
	Lat, Lon float64
	// GeofenceM overrides the policy radius when above zero.
	GeofenceM float64
}

// Team is a village work team (驻村工作队). The first secretary counts as a
// member whether or not Members lists them.
type Team struct {
	VillageCode    string
	Members        []string
	FirstSecretary string
}

// DutyDay is a day a team member spent on duty away from the village
// (official trip, meeting, training...). It counts toward residency only
// when approved (ApprovedBy not empty) and of a kind the policy counts.
type DutyDay struct {
	Member     string
	Date       Date
	Kind       string
	ApprovedBy string
}

// Assignment links an assistance officer to a household.
type Assignment struct {
	Officer     string
	HouseholdID string
	Active      bool
}

// HousingCase is a housing renovation case (危房改造). EvidenceComplete and
// Missing are computed by the evidence checker; the rules only report them.
type HousingCase struct {
	ID               string
	HouseholdID      string
	Area             string
	Grade            string
	EvidenceComplete bool
	Missing          []string
}

// Input is everything the rules look at in one run.
type Input struct {
	// AsOf is the instant the rules judge at; windows ending after it are
	// not yet due. Zero means the end of the period.
	AsOf       time.Time
	Households []Household
	Visits     []Visit
	// VisitTallies are visits counted rather than listed (see
	// VisitTally); none of them is also in Visits.
	VisitTallies []VisitTally
	Checkins     []Checkin
	Villages     []Village
	Teams        []Team
	DutyDays     []DutyDay
	Assignments  []Assignment
	HousingCases []HousingCase
	// TeamDuties are the "four ones" duties done for work teams [003];
	// DoctorContracts and DoctorVisits the family-doctor contracts and
	// visits [000].
	TeamDuties      []TeamDuty
	DoctorContracts []DoctorContract
	DoctorVisits    []DoctorVisit
}

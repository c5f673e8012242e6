package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// ExitMember is a household member as the exit standards see it.
type ExitMember struct {
	ID        string
	Name      string
	BirthDate Date // zero when unknown
	// Schooling is the member's schooling as recorded (文化程度/在校情况,
	// free text such as "小学在读" or "辍学").
	Schooling string
	// Insured is whether the member takes part in basic medical insurance
	// (新农合); nil when not recorded.
	Insured *bool
}

// ExitVisit is a visit's 两不愁三保障 checklist: item → "ok", "problem" or
// "na", with the items of the visits schema (food, clothing, education,
// medical, housing, drinking_water).
type ExitVisit struct {
	ID        string
	At        time.Time
	Checklist map[string]string
}

// ExitHousingCase is a housing renovation case of the household.
type ExitHousingCase struct {
	ID string
	// Completed is true once the case has its completion acceptance
	// (acceptance_date); EvidenceComplete is the evidence checker's verdict.
	Completed        bool
	EvidenceComplete bool
}

// ExitRecords is everything the exit standards are evaluated from.
type ExitRecords struct {
	HouseholdID  string
	Area         string
	Members      []ExitMember
	Surveys      []IncomeSurvey
	Visits       []ExitVisit
	HousingCases []ExitHousingCase
}

// Stable codes of unmet exit standards (UnmetStandard.Code).
const (
	StandardIncomeSurveyMissing = "income_survey_missing"
	StandardIncomeNotAboveLine  = "income_not_above_line"
	StandardVisitMissing        = "visit_missing"
	StandardChecklistNotMet     = "checklist_not_met"
	StandardHousingCaseOpen     = "housing_case_open"
	StandardHousingEvidence     = "housing_evidence_missing"
	StandardChildOutOfSchool    = "child_out_of_school"
	StandardMemberNotInsured    = "member_not_insured"
)

// UnmetStandard names one exit standard a household does not meet, with
// the records behind the verdict. Title and Detail are zh-CN.
type UnmetStandard struct {
	Code      string   `json:"code"`
	Title     string   `json:"title"`
	Detail    string   `json:"detail"`
	RecordIDs []string `json:"record_ids,omitempty"`
}

// ExitStandards is the verdict of the exit standards for one household at
// one instant.
type ExitStandards struct {
	HouseholdID string          `json:"household_id"`
	At          time.Time       `json:"at"`
	Met         bool            `json:"met"`
	Unmet       []UnmetStandard `json:"unmet"`
	// Income is the computed income of the survey used (nil when none).
	Income   *IncomeResult `json:"income,omitempty"`
	SurveyID string        `json:"survey_id,omitempty"`
}

// checklistTitles are the 两不愁三保障 items the exit standards require, in
// the order they are reported. Drinking water is recorded on visits but is
// not among the 2017 exit standards of [000].
var checklistTitles = [...][2]string{
	{"food", "不愁吃"}, {"clothing", "不愁穿"}, {"education", "义务教育有保障"},
	{"medical", "基本医疗有保障"}, {"housing", "住房安全有保障"},
}

// EvaluateExitStandards judges the household exit standards of [000] at an
// instant, from records:
//
//   - per-capita net income strictly above the line, from the latest survey
//     of the income year containing at or of the one just before it (a
//     survey older than that no longer proves the income);
//   - the latest visit at or before at has every 两不愁三保障 item "ok" or
//     "na";
//   - safe housing: every housing case is completed, with complete evidence;
//   - no member of compulsory-school age (policy ages, at the date of at)
//     out of school: schooling saying 辍学/失学, or not saying the member
//     is in school (在读/在校/就读/上学);
//   - every member insured (新农合); a member with no record is unmet.
//
// Every unmet standard is listed; Met is true when none is.
func EvaluateExitStandards(r ExitRecords, p Policy, at time.Time) ExitStandards {
	out := ExitStandards{HouseholdID: r.HouseholdID, At: at}
	unmet := func(code, title, detail string, ids ...string) {
		out.Unmet = append(out.Unmet, UnmetStandard{Code: code, Title: title, Detail: detail, RecordIDs: ids})
	}

	// Income.
	current := p.Income.IncomeYear(at)
	previous := p.Income.IncomeYear(current.Start.Add(-time.Nanosecond))
	var chosen *IncomeSurvey
	var chosenYear Period
	for i := range r.Surveys {
		s := &r.Surveys[i]
		y, err := ParseIncomeYearKey(s.IncomeYear, p.Income)
		if err != nil || (y.Start != current.Start && y.Start != previous.Start) {
			continue
		}
		if chosen == nil || y.Start.After(chosenYear.Start) ||
			(y.Start.Equal(chosenYear.Start) && s.SurveyedAt.After(chosen.SurveyedAt)) {
			chosen, chosenYear = s, y
		}
	}
	if chosen == nil {
		unmet(StandardIncomeSurveyMissing, "缺少收入调查",
			fmt.Sprintf("没有%s或%s的收入调查", IncomeYearKey(current.Start, p.Income), IncomeYearKey(previous.Start, p.Income)))
	} else {
		res, err := ComputeIncome(*chosen, p.Income)
		switch {
		case err != nil:
			unmet(StandardIncomeSurveyMissing, "收入调查无法计算", err.Error(), chosen.ID)
		default:
			out.Income, out.SurveyID = &res, chosen.ID
			if !res.AboveLine {
				unmet(StandardIncomeNotAboveLine, "人均纯收入未超过标准",
					fmt.Sprintf("%s年度人均纯收入%s元，未超过标准%s元", chosen.IncomeYear, res.PerCapita, res.Line), chosen.ID)
			}
		}
	}

	// Latest visit's checklist.
	var latest *ExitVisit
	for i := range r.Visits {
		v := &r.Visits[i]
		if v.At.After(at) {
			continue
		}
		if latest == nil || v.At.After(latest.At) || (v.At.Equal(latest.At) && v.ID > latest.ID) {
			latest = v
		}
	}
	if latest == nil {
		unmet(StandardVisitMissing, "缺少走访记录", "没有走访记录可核实两不愁三保障")
	} else {
		var bad []string
		for _, item := range checklistTitles {
			if v := latest.Checklist[item[0]]; v != "ok" && v != "na" {
				bad = append(bad, item[1])
			}
		}
		if len(bad) > 0 {
			unmet(StandardChecklistNotMet, "两不愁三保障未全部保障",
				fmt.Sprintf("最近一次走访（%s）未保障：%s", DateOf(latest.At), strings.Join(bad, "、")), latest.ID)
		}
	}

	// Safe housing.
	for _, c := range r.HousingCases {
		switch {
		case !c.Completed:
			unmet(StandardHousingCaseOpen, "危房改造未完成", "危房改造尚未竣工验收", c.ID)
		case !c.EvidenceComplete:
			unmet(StandardHousingEvidence, "危房改造资料不全", "危房改造已验收但改造前后照片或验收签字不全", c.ID)
		}
	}

	// Members: schooling and insurance.
	today := DateOf(at)
	for _, m := range r.Members {
		if m.BirthDate.IsZero() {
			continue
		}
		if age := ageOn(m.BirthDate, today); age >= p.Exit.SchoolAgeFrom && age <= p.Exit.SchoolAgeTo && !inSchool(m.Schooling) {
			unmet(StandardChildOutOfSchool, "有义务教育阶段适龄儿童失学辍学",
				fmt.Sprintf("%s（%d岁）在校情况：%s", m.Name, age, orNone(m.Schooling)), m.ID)
		}
	}
	for _, m := range r.Members {
		if m.Insured == nil || !*m.Insured {
			detail := m.Name + "未参加基本医疗保险"
			if m.Insured == nil {
				detail = m.Name + "未记录参保情况"
			}
			unmet(StandardMemberNotInsured, "家庭成员未全部参加基本医保", detail, m.ID)
		}
	}
	sort.SliceStable(out.Unmet, func(i, j int) bool { return standardOrder(out.Unmet[i].Code) < standardOrder(out.Unmet[j].Code) })
	out.Met = len(out.Unmet) == 0
	return out
}

func standardOrder(code string) int {
	for i, c := range []string{StandardIncomeSurveyMissing, StandardIncomeNotAboveLine, StandardVisitMissing,
		StandardChecklistNotMet, StandardHousingCaseOpen, StandardHousingEvidence, StandardChildOutOfSchool, StandardMemberNotInsured} {
		if c == code {
			return i
		}
	}
	return 99
}

// inSchool reads the free-text schooling of a school-age member.
func inSchool(s string) bool {
	if strings.Contains(s, "辍学") || strings.Contains(s, "失学") {
		return false
	}
	for _, w := range []string{"在读", "在校", "就读", "上学"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// ageOn is the age in whole years on a date.
func ageOn(birth, on Date) int {
	age := on.Year - birth.Year
	if on.Month < birth.Month || (on.Month == birth.Month && on.Day < birth.Day) {
		age--
	}
	return age
}

func orNone(s string) string {
	if s == "" {
		return "未记录"
	}
	return s
}

// KindExitStandardsUnmet is the finding kind of an exit case under way or
// registered whose household does not meet the exit standards when judged
// again: a household exited, or being exited, on paper (错退). It is not
// among Kinds(): reports add it from the stored cases.
const KindExitStandardsUnmet Kind = "exit_standards_unmet"

// ExitFinding is an exit case past its first step (the standards were met
// when the appraisal was recorded) whose household's standards are unmet
// now, each unmet standard named.
type ExitFinding struct {
	Kind        Kind   `json:"kind"`
	Area        string `json:"area"`
	CaseID      string `json:"case_id"`
	HouseholdID string `json:"household_id"`
	HeadName    string `json:"head_name"`
	// LastStep is the last step done; Registered is true once the county
	// registered the exit.
	LastStep   ExitStepKind    `json:"last_step"`
	Registered bool            `json:"registered"`
	Unmet      []UnmetStandard `json:"unmet"`
}

// FindingKind implements Finding.
func (f ExitFinding) FindingKind() Kind { return f.Kind }

// FindingArea implements Finding.
func (f ExitFinding) FindingArea() string { return f.Area }

// CheckExitCase returns the finding of an exit case in state whose
// household's standards, evaluated again (std), are unmet: ok is false for
// a case with no step done (it has claimed nothing yet) and for standards
// that are met.
func CheckExitCase(area, headName string, state ExitState, householdID string, std ExitStandards) (ExitFinding, bool) {
	if len(state.Done) == 0 || std.Met {
		return ExitFinding{}, false
	}
	return ExitFinding{Kind: KindExitStandardsUnmet, Area: area, CaseID: state.CaseID, HouseholdID: householdID,
		HeadName: headName, LastStep: state.Done[len(state.Done)-1].Kind, Registered: state.Completed(),
		Unmet: std.Unmet}, true
}

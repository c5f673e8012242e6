// Package collection is the one home of the names of ruhu's collections
// (one per schema in schemas/json): the server, the stores, the rules, the
// SDK and the CLI name collections through these constants, never through
// string literals of their own.
package collection

// The collections.
const (
	Assignments     = "assignments"      // 帮扶责任人分配
	Checkins        = "checkins"         // 驻村打卡
	DoctorContracts = "doctor_contracts" // 家庭医生签约
	DoctorVisits    = "doctor_visits"    // 家庭医生走访
	DutyDays        = "duty_days"        // 驻村工作队公务日
	ExitCases       = "exit_cases"       // 退出案件
	ExitSteps       = "exit_steps"       // 退出程序步骤
	Households      = "households"       // 建档立卡户
	HousingCases    = "housing_cases"    // 危房改造案件
	IncomeSurveys   = "income_surveys"   // 收入调查
	LedgerItems     = "ledger_items"     // 整改台账
	Members         = "members"          // 家庭成员
	Photos          = "photos"           // 照片
	Signatures      = "signatures"       // 签字
	TeamDuties      = "team_duties"      // 驻村工作队“四个一”
	Teams           = "teams"            // 驻村工作队
	Villages        = "villages"         // 村
	Visits          = "visits"           // 入户走访
)

// All returns every collection name, in name order.
func All() []string {
	return []string{Assignments, Checkins, DoctorContracts, DoctorVisits, DutyDays, ExitCases, ExitSteps, Households, HousingCases,
		IncomeSurveys, LedgerItems, Members, Photos, Signatures, TeamDuties, Teams, Villages, Visits}
}

// titles are the collections' names as staff say them.
var titles = map[string]string{
	Assignments: "帮扶责任人分配", Checkins: "驻村打卡", DoctorContracts: "家庭医生签约", DoctorVisits: "家庭医生走访",
	DutyDays: "驻村工作队公务日", ExitCases: "退出案件", ExitSteps: "退出程序步骤", Households: "建档立卡户",
	HousingCases: "危房改造案件", IncomeSurveys: "收入调查", LedgerItems: "整改台账", Members: "家庭成员",
	Photos: "照片", Signatures: "签字", TeamDuties: "驻村工作队“四个一”", Teams: "驻村工作队", Villages: "村",
	Visits: "入户走访",
}

// Title is the Chinese name of a collection for pages and exports, or the
// name itself for one this package does not know.
func Title(name string) string {
	if t, ok := titles[name]; ok {
		return t
	}
	return name
}

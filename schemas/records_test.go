package schemas_test

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/schemas"
)

// Realistic full records, one per collection, using every field the schema
// defines (TestFullRecordsAreAccepted checks that no field is left out).
var fullRecords = map[string]string{
	"households": `{
		"head_name": "张桂英",
		"address": "安徽省六安市金寨县花石乡大湾村大湾组 12 号",
		"phone": "0564-7123456",
		"status": {"value": "exited", "year": 2019},
		"flags": ["dibao", "dabing"],
		"primary_cause": "illness",
		"secondary_causes": ["lack_labour", "lack_funds"],
		"member_count": 4,
		"income_per_capita": 9850.5,
		"income_year": "2025-2026",
		"housing_grade": "B",
		"notes": "户主患慢性肾病，长期服药；儿子在合肥务工。"
	}`,
	"members": `{
		"household_id": "01JC8Z6Q4W3X5M2N7P9R0S1T2V",
		"name": "陈小明",
		"id_number": "34152219850312451X",
		"relation": "child",
		"gender": "male",
		"birth_date": "1985-03-12",
		"labour_status": "skilled",
		"schooling": "高中",
		"insured": true
	}`,
	"assignments": `{
		"officer": "wang.lei",
		"household_id": "01JC8Z6Q4W3X5M2N7P9R0S1T2V",
		"active": true,
		"start_date": "2024-03-01",
		"end_date": "2026-02-28"
	}`,
	"visits": `{
		"household_id": "01JC8Z6Q4W3X5M2N7P9R0S1T2V",
		"officer": "wang.lei",
		"visited_at": "2025-11-03T09:41:00+08:00",
		"gps": {"lat": 31.6782, "lon": 115.9034, "accuracy_m": 8.5},
		"checklist": {"food": "ok", "clothing": "ok", "education": "na", "medical": "problem", "housing": "ok", "drinking_water": "ok"},
		"notes": "户主反映医保报销比例偏低，已联系乡卫生院核实。",
		"answered_by_member_id": "01JC8Z7A1B2C3D4E5F6G7H8J9K",
		"answered_by_name": "张桂英",
		"answered_by_relation": "head",
		"photo_sha256s": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"],
		"signature_ids": ["01JC8Z9S1G2N3A4T5U6R7E8I9D"],
		"review_status": "confirmed",
		"review_note": "乡镇复核：情况属实。",
		"review_state": "approved",
		"review_comment": "走访内容完整，照片清晰。",
		"reviewed_by": "zhou.township",
		"reviewed_at": "2025-11-05T10:00:00+08:00"
	}`,
	"checkins": `{
		"member": "li.fang",
		"village_code": "341524105201",
		"at": "2025-11-03T08:02:11+08:00",
		"gps": {"lat": 31.6801, "lon": 115.9011, "accuracy_m": 12},
		"device_time": "2025-11-03T08:02:09+08:00",
		"note": "村部签到，上午走访三组。",
		"review_note": "已核对签到册。",
		"review_state": "has_issues",
		"review_comment": "定位精度偏低，请补充签到照片。",
		"reviewed_by": "zhou.township",
		"reviewed_at": "2025-11-04T09:00:00+08:00"
	}`,
	"photos": `{
		"blob_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"household_id": "01JC8Z6Q4W3X5M2N7P9R0S1T2V",
		"case_id": "01JC8ZCASE00000000000000HC",
		"stage": "after",
		"captured_at": "2025-10-20T15:30:00+08:00",
		"recorded_at": "2025-10-20T15:31:12+08:00",
		"gps": {"lat": 31.6779, "lon": 115.9040},
		"device": "HUAWEI MatePad SE",
		"note": "竣工后正面照，新砌砖墙。",
		"review_note": "与改造前照片位置一致。",
		"review_state": "approved",
		"review_comment": "",
		"reviewed_by": "qian.county",
		"reviewed_at": "2025-10-25T16:00:00+08:00"
	}`,
	"income_surveys": `{
		"household_id": "01JC8Z6Q4W3X5M2N7P9R0S1T2V",
		"income_year": "2024-2025",
		"surveyed_at": "2025-10-12T10:20:00+08:00",
		"surveyor": "wang.lei",
		"household_size": 4,
		"wage_migrant_work_yuan": 18000,
		"wage_public_job_yuan": 6000,
		"wage_other_yuan": 0,
		"business_farming_yuan": 3500.5,
		"business_tourism_yuan": 1200,
		"business_other_yuan": 0,
		"property_land_rent_yuan": 800,
		"property_dividend_yuan": 300,
		"property_other_yuan": 0,
		"transfer_subsidy_yuan": 1500,
		"transfer_dibao_yuan": 2880,
		"transfer_pension_yuan": 1260,
		"transfer_eco_compensation_yuan": 150.75,
		"transfer_other_yuan": 0,
		"production_costs_yuan": 2100.25,
		"signature_ids": ["01JC8Z9S1G2N3A4T5U6R7E8I9D"],
		"notes": "茶叶9月底前售出，计入本年度收入。"
	}`,
	"exit_cases": `{
		"household_id": "01JC8Z6Q4W3X5M2N7P9R0S1T2V",
		"exit_year": 2025,
		"opened_by": "li.fang",
		"opened_at": "2025-10-15T09:00:00+08:00",
		"notes": "拟2025年脱贫。"
	}`,
	"exit_steps": `{
		"case_id": "01JC8ZEXIT00000000000000C1",
		"household_id": "01JC8Z6Q4W3X5M2N7P9R0S1T2V",
		"step": "village_notice",
		"at": "2025-10-20T09:00:00+08:00",
		"actor": "li.fang",
		"entitled": 36,
		"attended": 31,
		"signed": 27,
		"village_committee_signer": "陈国强",
		"work_team_signer": "李芳",
		"signature_id": "01JC8Z9S1G2N3A4T5U6R7E8I9D",
		"notice_posted_at": "2025-10-20T08:30:00+08:00",
		"notice_ends_at": "2025-10-25T08:30:00+08:00",
		"notice_dated_as": "2025年10月20日",
		"notice_photo_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"passed": true,
		"upheld": false,
		"reason": "",
		"registration_ref": "金扶备〔2025〕12号",
		"photo_sha256s": ["60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"],
		"notes": "公示栏在村部门口。"
	}`,
	"ledger_items": `{
		"source": "visit_overdue",
		"source_ref": "households/01JC8Z6Q4W3X5M2N7P9R0S1T2V",
		"category": "帮扶工作",
		"problem": "脱贫户半年内无走访记录。",
		"goal": "每半年至少走访1次并留存记录。",
		"measures": "帮扶干部补走访，录入系统并由农户签字。",
		"responsible_unit": "花石乡人民政府",
		"responsible_person": "王磊",
		"deadline": "2025-12-31",
		"status": "closed",
		"opened_by": "qian.county",
		"opened_at": "2025-11-01T09:00:00+08:00",
		"evidence_sha256s": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
		"evidence_record_ids": ["01JC8ZVISIT0000000000000V1"],
		"rectified_by": "wang.lei",
		"rectified_at": "2025-11-10T16:00:00+08:00",
		"verified_by": "zhou.township",
		"verified_at": "2025-11-12T10:00:00+08:00",
		"verify_note": "已核实补走访记录及签字。",
		"closed_by": "qian.county",
		"closed_at": "2025-11-20T10:00:00+08:00"
	}`,
	"housing_cases": `{
		"household_id": "01JC8Z6Q4W3X5M2N7P9R0S1T2V",
		"grade": "D",
		"build_mode": "repair",
		"milestones": [
			{"name": "开工", "date": "2025-06-02", "note": "拆除旧瓦"},
			{"name": "竣工", "date": "2025-09-28"}
		],
		"acceptance_date": "2025-10-20",
		"subsidy_yuan": 20000,
		"photo_sha256s": ["60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"]
	}`,
	"signatures": `{
		"signer_name": "张桂英",
		"signer_role": "household_head",
		"signed_collection": "visits",
		"signed_record_id": "01JC8ZVISIT0000000000000V1",
		"signed_content_sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
		"strokes": [[{"x": 10, "y": 20.5, "t": 0}, {"x": 12, "y": 22, "t": 16}], [{"x": 40, "y": 18, "t": 480}]],
		"image_sha256": "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9",
		"device_signature": "3q2+7w==",
		"device_id": "tablet-0042",
		"signed_at": "2025-11-03T09:58:00+08:00",
		"purpose": "visit"
	}`,
	"villages": `{
		"code": "341524105201",
		"name": "大湾村",
		"township_code": "341524105",
		"center": {"lat": 31.68, "lon": 115.90, "accuracy_m": 0},
		"geofence_m": 1500
	}`,
	"teams": `{
		"village_code": "341524105201",
		"name": "大湾村驻村工作队",
		"members": ["li.fang", "zhao.qiang", "sun.mei"],
		"first_secretary": "zhao.qiang"
	}`,
	"team_duties": `{
		"team_id": "01JC8ZTEAM00000000000000T1",
		"kind": "scheduling_meeting",
		"date": "2025-11-06",
		"note": "乡镇召开驻村工作调度会，第一书记汇报帮扶进展。",
		"evidence_sha256s": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
	}`,
	"doctor_contracts": `{
		"household_id": "01JC8Z6Q4W3X5M2N7P9R0S1T2V",
		"doctor": "刘芳",
		"package": "basic",
		"start_date": "2025-01-01",
		"end_date": "2025-12-31",
		"note": "慢病随访服务包。"
	}`,
	"doctor_visits": `{
		"household_id": "01JC8Z6Q4W3X5M2N7P9R0S1T2V",
		"date": "2025-11-07",
		"doctor": "刘芳",
		"note": "测血压，调整降压药用量。"
	}`,
	"duty_days": `{
		"member": "li.fang",
		"date": "2025-11-05",
		"kind": "training",
		"approved_by": "county.chen",
		"approved_at": "2025-11-04T17:00:00+08:00",
		"note": "县里组织的防返贫监测培训。"
	}`,
}

// requiredFields mirrors the "required" lists of the schema files (and the
// Go rule for a household's primary cause).
var requiredFields = map[string][]string{
	"households":       {"head_name", "status", "primary_cause"},
	"members":          {"household_id", "name"},
	"assignments":      {"officer", "household_id", "active"},
	"visits":           {"household_id", "officer", "visited_at", "checklist"},
	"checkins":         {"member", "village_code", "at", "gps"},
	"photos":           {"blob_sha256", "stage", "captured_at"},
	"housing_cases":    {"household_id", "grade"},
	"signatures":       {"signer_name", "signer_role", "signed_collection", "signed_record_id", "signed_content_sha256", "signed_at"},
	"villages":         {"code", "name", "center"},
	"teams":            {"village_code", "members"},
	"duty_days":        {"member", "date", "kind"},
	"team_duties":      {"team_id", "kind", "date"},
	"doctor_contracts": {"household_id", "doctor", "package", "start_date"},
	"doctor_visits":    {"household_id", "date", "doctor"},
	"income_surveys":   {"household_id", "income_year", "surveyed_at", "surveyor", "household_size"},
	"exit_cases":       {"household_id", "exit_year", "opened_by", "opened_at"},
	"exit_steps":       {"case_id", "household_id", "step", "at", "actor"},
	"ledger_items":     {"source", "problem", "responsible_unit", "deadline", "status", "opened_by", "opened_at"},
}

func newRegistry(tb testing.TB) *schemas.Registry {
	tb.Helper()
	r, err := schemas.New()
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return r
}

// full returns a fresh copy of a collection's full record.
func full(tb testing.TB, collection string) map[string]json.RawMessage {
	tb.Helper()
	text, ok := fullRecords[collection]
	if !ok {
		tb.Fatalf("no full record for %s", collection)
	}
	return decodeObject(tb, text)
}

func decodeObject(tb testing.TB, text string) map[string]json.RawMessage {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		tb.Fatalf("test data: %v", err)
	}
	return m
}

// edit returns a copy of rec with set applied (a nil value deletes).
func edit(rec map[string]json.RawMessage, set map[string]string) map[string]json.RawMessage {
	out := maps.Clone(rec)
	for k, v := range set {
		if v == "" {
			delete(out, k)
			continue
		}
		out[k] = json.RawMessage(v)
	}
	return out
}

func patch(kv ...string) map[string]json.RawMessage {
	m := make(map[string]json.RawMessage, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = json.RawMessage(kv[i+1])
	}
	return m
}

func quote(s string) string { return `"` + s + `"` }

var longNote = quote(strings.Repeat("走", 4001))

package reports_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/reports"
	"github.com/xuri/excelize/v2"
)

func TestLedgerXLSXFollowsTheSeedColumnOrder(t *testing.T) {
	cst := rules.Shanghai()
	items := []rules.LedgerItem{
		{ID: "L1", Area: "340199001001", Source: "visit_overdue", SourceRef: "h1", Problem: "脱贫户半年未走访，户主身份证340102198001011234",
			Measures: "补走访", ResponsibleUnit: "某乡人民政府", ResponsiblePerson: "王磊", Deadline: rules.Date{Year: 2026, Month: 11, Day: 30},
			Status: rules.LedgerOpen, OpenedBy: "county1"},
		{ID: "L2", Area: "340199001002", Source: rules.LedgerSourceInspection, Problem: "公示日期为9月31日", Measures: "重新公示",
			ResponsibleUnit: "某村委会", Deadline: rules.Date{Year: 2026, Month: 12, Day: 31}, Status: rules.LedgerClosed,
			OpenedBy: "county1", RectifiedBy: "li", VerifiedBy: "tw1", ClosedBy: "county1"},
	}
	var buf bytes.Buffer
	if err := reports.WriteLedgerXLSX(&buf, items, time.Date(2026, 12, 2, 9, 0, 0, 0, cst)); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows(reports.LedgerSheet)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	// problem, measures, responsible unit, deadline, status [001].
	if got := rows[0][:6]; !slices.Equal(got, []string{"序号", "具体问题", "整改措施", "责任单位", "整改期限", "状态"}) {
		t.Errorf("headers = %v", got)
	}
	first := rows[1]
	if first[1] != "脱贫户半年未走访，户主身份证340102********1234" || first[2] != "补走访" || first[3] != "某乡人民政府" ||
		first[4] != "2026-11-30" || first[5] != "待整改（逾期）" || first[6] != "2" {
		t.Errorf("open overdue row = %v", first)
	}
	if second := rows[2]; second[5] != "已销号" || second[6] != "" || second[11] != "督查发现" || second[16] != "county1" {
		t.Errorf("closed row = %v", second)
	}
}

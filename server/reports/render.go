package reports

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/xuri/excelize/v2"
)

// ErrUnknownList is returned by WriteCSV for a list name not in ListNames.
var ErrUnknownList = errors.New("unknown report list")

// WriteJSON writes the report as JSON (the struct tags of Report, Node and
// the rules' finding types).
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report JSON: %w", err)
	}
	return nil
}

// table is one list of a report as rows of cells: the shape CSV and XLSX
// share.
type table struct {
	name    string // stable list name: "summary" or a finding kind
	sheet   string // Chinese sheet name
	headers []string
	widths  []float64
	rows    int
	// row returns the cells of row i, reusing buf.
	row func(i int, buf []any) []any
}

// ListNames returns the names WriteCSV accepts: "summary" and then every
// finding kind (Kinds), in the order of the XLSX sheets.
func ListNames() []string {
	out := []string{"summary"}
	for _, k := range Kinds() {
		out = append(out, string(k))
	}
	return out
}

const timeLayout = "2006-01-02 15:04:05"

func localTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(rules.Shanghai()).Format(timeLayout)
}

func tables(r *Report) []table {
	l := &r.Lists
	kinds := Kinds()
	var nodes []*Node
	var depths []int
	r.Summary.Walk(func(n *Node, d int) { nodes = append(nodes, n); depths = append(depths, d) })
	sumHeaders := []string{"区划代码", "层级", "名称"}
	for _, k := range kinds {
		sumHeaders = append(sumHeaders, Title(k))
	}
	sumHeaders = append(sumHeaders, "合计")
	visitRow := func(list []rules.VisitFinding, overdue bool) func(int, []any) []any {
		return func(i int, b []any) []any {
			f := &list[i]
			b = append(b, f.Area, f.HouseholdID, f.HeadName, f.Status.Label(), f.Required.Label(), f.LastVisit.String(), f.DueBy.String())
			if overdue {
				return append(b, f.DaysOverdue, strings.Join(f.MissedWindows, "、"), f.VisitsInWindow)
			}
			return append(b, f.DaysLeft, f.VisitsInWindow)
		}
	}
	out := []table{
		{name: "summary", sheet: "汇总", headers: sumHeaders, rows: len(nodes),
			widths: []float64{16, 8, 16},
			row: func(i int, b []any) []any {
				n := nodes[i]
				b = append(b, n.Code, strings.Repeat("  ", depths[i])+n.Level.Label(), n.Name)
				for _, k := range kinds {
					b = append(b, n.Counts[k])
				}
				return append(b, n.Total)
			}},
		{name: string(rules.KindVisitOverdue), sheet: rules.KindVisitOverdue.Title(), rows: len(l.VisitOverdue),
			headers: []string{"村代码", "户编号", "户主姓名", "户状态", "走访要求", "最近走访日期", "应走访截止日期", "逾期天数", "缺访周期", "周期内走访次数"},
			widths:  []float64{16, 22, 10, 8, 14, 14, 16, 10, 24, 14},
			row:     visitRow(l.VisitOverdue, true)},
		{name: string(rules.KindVisitDueSoon), sheet: rules.KindVisitDueSoon.Title(), rows: len(l.VisitDueSoon),
			headers: []string{"村代码", "户编号", "户主姓名", "户状态", "走访要求", "最近走访日期", "截止日期", "剩余天数", "本周期已走访次数"},
			widths:  []float64{16, 22, 10, 8, 14, 14, 14, 10, 16},
			row:     visitRow(l.VisitDueSoon, false)},
		{name: string(rules.KindResidencyShort), sheet: rules.KindResidencyShort.Title(), rows: len(l.ResidencyShort),
			headers: []string{"村代码", "村名", "成员", "月份", "驻村天数", "要求天数", "签到天数", "公务天数", "未计入签到次数"},
			widths:  []float64{16, 12, 16, 10, 10, 10, 10, 10, 14},
			row: func(i int, b []any) []any {
				f := &l.ResidencyShort[i]
				return append(b, f.Area, f.VillageName, f.Member, f.Month, f.Days, f.Required, f.CheckinDays, f.DutyDays, f.NotCounted)
			}},
		{name: string(rules.KindCheckinClock), sheet: rules.KindCheckinClock.Title(), rows: len(l.CheckinClock),
			headers: []string{"村代码", "签到编号", "成员", "设备时间", "服务器接收时间", "设备时间超前分钟", "限值分钟"},
			widths:  []float64{16, 22, 16, 20, 20, 16, 10},
			row: func(i int, b []any) []any {
				f := &l.CheckinClock[i]
				return append(b, f.Area, f.CheckinID, f.Member, localTime(f.At), localTime(f.ReceivedAt), f.AheadMinutes, f.LimitMinutes)
			}},
		{name: string(rules.KindCheckinTravel), sheet: rules.KindCheckinTravel.Title(), rows: len(l.CheckinTravel),
			headers: []string{"村代码", "签到编号", "成员", "签到时间", "上次签到编号", "上次签到村代码", "上次签到时间", "距离(公里)", "速度(公里/小时)", "限速(公里/小时)"},
			widths:  []float64{16, 22, 16, 20, 22, 16, 20, 12, 16, 16},
			row: func(i int, b []any) []any {
				f := &l.CheckinTravel[i]
				return append(b, f.Area, f.CheckinID, f.Member, localTime(f.At), f.PreviousID, f.PreviousArea, localTime(f.PreviousAt), f.DistanceKm, f.SpeedKmh, f.MaxKmh)
			}},
		{name: string(rules.KindCaseloadExceeded), sheet: rules.KindCaseloadExceeded.Title(), rows: len(l.Caseload),
			headers: []string{"村代码", "帮扶干部", "帮扶户数", "上限", "户编号"},
			widths:  []float64{16, 16, 10, 8, 60},
			row: func(i int, b []any) []any {
				f := &l.Caseload[i]
				return append(b, f.Area, f.Officer, f.Households, f.Limit, strings.Join(f.HouseholdIDs, "、"))
			}},
		{name: string(rules.KindTeamTooSmall), sheet: rules.KindTeamTooSmall.Title(), rows: len(l.TeamTooSmall),
			headers: []string{"村代码", "村名", "第一书记", "成员", "人数", "要求人数"},
			widths:  []float64{16, 12, 16, 40, 8, 10},
			row: func(i int, b []any) []any {
				f := &l.TeamTooSmall[i]
				return append(b, f.Area, f.VillageName, f.FirstSecretary, strings.Join(f.Members, "、"), f.Size, f.Required)
			}},
		{name: string(rules.KindAnsweredByOther), sheet: rules.KindAnsweredByOther.Title(), rows: len(l.AnsweredBy),
			headers: []string{"村代码", "走访编号", "户编号", "户主姓名", "帮扶干部", "走访时间", "应答人编号", "应答人姓名", "原因"},
			widths:  []float64{16, 22, 22, 10, 16, 20, 22, 12, 24},
			row: func(i int, b []any) []any {
				f := &l.AnsweredBy[i]
				return append(b, f.Area, f.VisitID, f.HouseholdID, f.HeadName, f.Officer, localTime(f.At), f.AnsweredByMemberID, f.AnsweredByName, rules.ReasonLabel(f.Reason))
			}},
		{name: string(rules.KindHousingEvidenceGap), sheet: rules.KindHousingEvidenceGap.Title(), rows: len(l.HousingGaps),
			headers: []string{"村代码", "案件编号", "户编号", "户主姓名", "危房等级", "缺少资料"},
			widths:  []float64{16, 22, 22, 10, 10, 40},
			row: func(i int, b []any) []any {
				f := &l.HousingGaps[i]
				return append(b, f.Area, f.CaseID, f.HouseholdID, f.HeadName, f.Grade, strings.Join(f.Missing, "、"))
			}},
	}
	out = append(out,
		table{name: string(rules.KindTeamDutyMissed), sheet: rules.KindTeamDutyMissed.Title(), rows: len(l.TeamDuties),
			headers: []string{"村代码", "村名", "工作事项", "要求", "未落实周期", "首个截止日期", "该周期完成次数", "最近完成日期"},
			widths:  []float64{16, 12, 22, 16, 40, 14, 14, 14},
			row: func(i int, b []any) []any {
				f := &l.TeamDuties[i]
				return append(b, f.Area, f.VillageName, f.Duty.Title(), f.Required.Label(), strings.Join(f.MissedWindows, "、"),
					f.DueBy.String(), f.Done, f.LastDone.String())
			}},
		table{name: string(rules.KindDoctorVisitOverdue), sheet: rules.KindDoctorVisitOverdue.Title(), rows: len(l.DoctorVisits),
			headers: []string{"村代码", "户编号", "户主姓名", "签约医生", "服务包", "走访要求", "缺访周期", "首个截止日期", "该周期走访次数", "最近走访日期"},
			widths:  []float64{16, 22, 10, 10, 14, 14, 40, 14, 14, 14},
			row: func(i int, b []any) []any {
				f := &l.DoctorVisits[i]
				return append(b, f.Area, f.HouseholdID, f.HeadName, f.Doctor, f.Package, f.Required.Label(), strings.Join(f.MissedWindows, "、"),
					f.DueBy.String(), f.Visits, f.LastVisit.String())
			}})
	for _, k := range PhotoKinds() {
		list := *l.Photos(k)
		out = append(out, table{name: string(k), sheet: Title(k), rows: len(list),
			headers: []string{"村代码", "类别", "说明", "户编号", "案件编号", "引用记录", "照片SHA256", "差异"},
			widths:  []float64{16, 24, 60, 30, 22, 50, 40, 16},
			row: func(i int, b []any) []any {
				f := &list[i]
				return append(b, f.Area, f.Title, f.Detail, strings.Join(f.HouseholdIDs, "、"), f.CaseID,
					strings.Join(f.Records, "、"), strings.Join(f.SHA256s, "、"), f.Measure)
			}})
	}
	return append(out,
		table{name: string(rules.KindLedgerOverdue), sheet: Title(rules.KindLedgerOverdue), rows: len(l.LedgerOverdue),
			headers: []string{"村代码", "台账编号", "具体问题", "责任单位", "责任人", "整改期限", "状态", "逾期天数"},
			widths:  []float64{16, 28, 40, 24, 10, 12, 14, 10},
			row: func(i int, b []any) []any {
				f := &l.LedgerOverdue[i]
				return append(b, f.Area, f.ItemID, f.Problem, f.ResponsibleUnit, f.ResponsiblePerson, f.Deadline.String(), f.Status.Title(), f.DaysOverdue)
			}},
		table{name: string(rules.KindExitStandardsUnmet), sheet: Title(rules.KindExitStandardsUnmet), rows: len(l.ExitStandardsUnmet),
			headers: []string{"村代码", "退出案件编号", "户编号", "户主姓名", "已完成步骤", "已备案", "未达标准"},
			widths:  []float64{16, 28, 22, 10, 16, 8, 60},
			row: func(i int, b []any) []any {
				f := &l.ExitStandardsUnmet[i]
				registered := "否"
				if f.Registered {
					registered = "是"
				}
				return append(b, f.Area, f.CaseID, f.HouseholdID, f.HeadName, f.LastStep.Title(), registered, unmetText(f.Unmet))
			}})
}

// WriteCSV writes one list of the report ("summary" or a finding kind, see
// ListNames) as CSV with Chinese headers. The file starts with a UTF-8
// byte-order mark so Excel opens it as UTF-8. One CSV per list keeps every
// column meaningful; the XLSX holds them all. It returns ErrUnknownList
// (wrapped) for a name not in ListNames.
func WriteCSV(w io.Writer, r *Report, list string) error {
	for _, t := range tables(r) {
		if t.name != list {
			continue
		}
		if _, err := io.WriteString(w, "\ufeff"); err != nil {
			return fmt.Errorf("write CSV %s: %w", list, err)
		}
		cw := csv.NewWriter(w)
		if err := cw.Write(t.headers); err != nil {
			return fmt.Errorf("write CSV %s: %w", list, err)
		}
		buf := make([]any, 0, len(t.headers))
		rec := make([]string, 0, len(t.headers))
		for i := 0; i < t.rows; i++ {
			buf = t.row(i, buf[:0])
			rec = rec[:0]
			for _, c := range buf {
				rec = append(rec, cellText(c))
			}
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("write CSV %s row %d: %w", list, i+1, err)
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("write CSV %s: %w", list, err)
		}
		return nil
	}
	return fmt.Errorf("write CSV %q: %w", list, ErrUnknownList)
}

func cellText(c any) string {
	switch v := c.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(c)
}

// WriteXLSX writes the report as an Excel workbook: the summary sheet 汇总
// (the roll-up tree, one row per area, indented by level) and one sheet
// per finding list with Chinese column headers. Rows are streamed, so the
// workbook's size does not bound memory. Codes and ids are written as text
// so Excel keeps 12-digit area codes intact.
func WriteXLSX(w io.Writer, r *Report) error {
	f := excelize.NewFile()
	defer f.Close()
	header, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}})
	if err != nil {
		return fmt.Errorf("xlsx header style: %w", err)
	}
	for i, t := range tables(r) {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", t.sheet); err != nil {
				return fmt.Errorf("xlsx sheet %s: %w", t.sheet, err)
			}
		} else if _, err := f.NewSheet(t.sheet); err != nil {
			return fmt.Errorf("xlsx sheet %s: %w", t.sheet, err)
		}
		if err := writeSheet(f, t, header); err != nil {
			return err
		}
	}
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("write xlsx: %w", err)
	}
	return nil
}

func writeSheet(f *excelize.File, t table, headerStyle int) error {
	sw, err := f.NewStreamWriter(t.sheet)
	if err != nil {
		return fmt.Errorf("xlsx sheet %s: %w", t.sheet, err)
	}
	for c := range t.headers {
		width := 12.0
		if c < len(t.widths) {
			width = t.widths[c]
		}
		if err := sw.SetColWidth(c+1, c+1, width); err != nil {
			return fmt.Errorf("xlsx sheet %s width: %w", t.sheet, err)
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fmt.Errorf("xlsx sheet %s panes: %w", t.sheet, err)
	}
	head := make([]any, len(t.headers))
	for i, h := range t.headers {
		head[i] = excelize.Cell{StyleID: headerStyle, Value: h}
	}
	if err := sw.SetRow("A1", head); err != nil {
		return fmt.Errorf("xlsx sheet %s header: %w", t.sheet, err)
	}
	buf := make([]any, 0, len(t.headers))
	for i := 0; i < t.rows; i++ {
		buf = t.row(i, buf[:0])
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, buf); err != nil {
			return fmt.Errorf("xlsx sheet %s row %d: %w", t.sheet, i+2, err)
		}
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("xlsx sheet %s: %w", t.sheet, err)
	}
	return nil
}

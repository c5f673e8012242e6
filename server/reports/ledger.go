package reports

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/xuri/excelize/v2"
)

// LedgerSheet is the name of the rectification ledger sheet.
const LedgerSheet = "问题台账"

// LedgerHeaders are the ledger sheet's columns. The first six follow the
// rectification lists of [001] (序号, 具体问题, 整改措施, 责任单位, 整改期限)
// with the status after them, so a county can paste the sheet into its own
// list; the rest say where the item came from and who moved it.
func LedgerHeaders() []string {
	return []string{"序号", "具体问题", "整改措施", "责任单位", "整改期限", "状态",
		"逾期天数", "问题类别", "整改目标", "责任人", "区划代码", "问题来源", "建立人", "整改人", "核验人", "核验意见", "销号人", "编号"}
}

// ledgerTable lays out items as judged at asOf: an item still open after
// its deadline shows how many days it is overdue.
func ledgerTable(items []rules.LedgerItem, asOf time.Time) table {
	overdue := map[string]int{}
	for _, f := range rules.OverdueLedgerItems(items, asOf) {
		overdue[f.ItemID] = f.DaysOverdue
	}
	return table{name: "ledger", sheet: LedgerSheet, headers: LedgerHeaders(), rows: len(items),
		widths: []float64{6, 40, 40, 24, 12, 14, 10, 14, 30, 10, 14, 16, 14, 14, 14, 30, 14, 28},
		row: func(i int, b []any) []any {
			it := &items[i]
			status := it.Status.Title()
			days := any("")
			if d, ok := overdue[it.ID]; ok {
				status += "（逾期）"
				days = d
			}
			source := it.Source
			if source == rules.LedgerSourceInspection {
				source = "督查发现"
			} else if t := rules.Kind(source).Title(); t != source {
				source = t
			}
			if it.SourceRef != "" {
				source += " " + it.SourceRef
			}
			return append(b, i+1, maskText(it.Problem), maskText(it.Measures), it.ResponsibleUnit, it.Deadline.String(), status,
				days, it.Category, maskText(it.Goal), it.ResponsiblePerson, it.Area, strings.TrimSpace(source), it.OpenedBy,
				it.RectifiedBy, it.VerifiedBy, maskText(it.VerifyNote), it.ClosedBy, it.ID)
		}}
}

// AddLedgerSheet adds the ledger sheet to a workbook being built (the
// compliance workbook, say), items in the order given, judged at asOf.
func AddLedgerSheet(f *excelize.File, items []rules.LedgerItem, asOf time.Time) error {
	header, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}})
	if err != nil {
		return fmt.Errorf("xlsx header style: %w", err)
	}
	if _, err := f.NewSheet(LedgerSheet); err != nil {
		return fmt.Errorf("xlsx sheet %s: %w", LedgerSheet, err)
	}
	return writeSheet(f, ledgerTable(items, asOf), header)
}

// WriteLedgerXLSX writes the rectification ledger as a workbook of one
// sheet (see LedgerHeaders), judged at asOf. Free text is masked like every
// report text (identity numbers never leave in clear).
func WriteLedgerXLSX(w io.Writer, items []rules.LedgerItem, asOf time.Time) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", LedgerSheet); err != nil {
		return fmt.Errorf("xlsx sheet %s: %w", LedgerSheet, err)
	}
	header, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}})
	if err != nil {
		return fmt.Errorf("xlsx header style: %w", err)
	}
	if err := writeSheet(f, ledgerTable(items, asOf), header); err != nil {
		return err
	}
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("write ledger xlsx: %w", err)
	}
	return nil
}

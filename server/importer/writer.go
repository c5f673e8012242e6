package importer

import (
	"fmt"
	"io"
	"strconv"

	"github.com/xuri/excelize/v2"
)

// Row is one register row as text, column by column (see Columns).
type Row struct {
	HouseholdID string
	HeadName    string
	IDNumber    string
	VillageCode string
	Type        string
	Status      string
	Size        string
	Cause       string
	Phone       string
	ExitYear    string
}

func (r Row) cells() []string {
	return []string{r.HouseholdID, r.HeadName, r.IDNumber, r.VillageCode, r.Type, r.Status, r.Size, r.Cause, r.Phone, r.ExitYear}
}

// WriteRegister writes a register workbook: one sheet 花名册 with a title
// row, the header row of Columns and the given rows, every cell as text
// (so identity numbers and village codes keep all their digits in Excel).
// Tests make register files with it.
func WriteRegister(w io.Writer, rows []Row) error {
	return WriteSheet(w, Columns(), rowsCells(rows))
}

func rowsCells(rows []Row) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = r.cells()
	}
	return out
}

// WriteSheet writes a register with arbitrary headers and cells under a
// title row; it lets tests and staff make registers with other column
// orders or extra columns.
func WriteSheet(w io.Writer, headers []string, rows [][]string) error {
	const sheet = "花名册"
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return fmt.Errorf("write register: %w", err)
	}
	text, err := f.NewStyle(&excelize.Style{NumFmt: 49}) // "@": text
	if err != nil {
		return fmt.Errorf("write register: %w", err)
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return fmt.Errorf("write register: %w", err)
	}
	if err := sw.SetColWidth(1, len(headers), 20); err != nil {
		return fmt.Errorf("write register: %w", err)
	}
	if err := sw.SetRow("A1", []any{"建档立卡户花名册"}); err != nil {
		return fmt.Errorf("write register title: %w", err)
	}
	head := make([]any, len(headers))
	for i, h := range headers {
		head[i] = h
	}
	if err := sw.SetRow("A2", head); err != nil {
		return fmt.Errorf("write register header: %w", err)
	}
	for i, r := range rows {
		cells := make([]any, len(r))
		for j, c := range r {
			cells[j] = excelize.Cell{StyleID: text, Value: c}
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+3)
		if err := sw.SetRow(cell, cells); err != nil {
			return fmt.Errorf("write register row %d: %w", i+3, err)
		}
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("write register: %w", err)
	}
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("write register: %w", err)
	}
	return nil
}

// WriteTemplate writes an empty register with three example rows for one
// made-up village, showing staff what each column holds.
func WriteTemplate(w io.Writer) error {
	return WriteRegister(w, ExampleRows("340102001001", 3))
}

// ExampleRows returns n valid, deterministic register rows for a village:
// made-up names and identity numbers with correct check digits (not real
// people), a mix of household types and statuses.
func ExampleRows(villageCode string, n int) []Row {
	surnames := []string{"王", "李", "张", "刘", "陈", "杨"}
	given := []string{"建国", "秀英", "桂兰", "志强", "玉梅", "德明", "春花"}
	types := []string{"一般贫困户", "低保贫困户", "五保贫困户", "一般贫困户", "边缘易致贫户"}
	causes := []string{"因病", "因残", "缺劳力", "缺技术", "因学"}
	area := villageCode
	if len(area) < 6 {
		area = "340102"
	}
	rows := make([]Row, n)
	for i := range rows {
		birth := fmt.Sprintf("%04d%02d%02d", 1950+i%50, 1+i%12, 1+i%28)
		seq := fmt.Sprintf("%03d", i%1000)
		first17 := area[:6] + birth + seq
		id := first17 + string(IDCheckChar(first17))
		r := Row{HeadName: surnames[i%len(surnames)] + given[(i/len(surnames))%len(given)], IDNumber: id,
			VillageCode: villageCode, Type: types[i%len(types)], Size: strconv.Itoa(1 + i%6), Cause: causes[i%len(causes)],
			Phone: fmt.Sprintf("139%08d", i)}
		if i%3 == 1 {
			r.ExitYear = strconv.Itoa(2016 + i%5)
		}
		rows[i] = r
	}
	return rows
}

// RowsFromHouseholds turns imported households back into register rows,
// the inverse of Parse for its good rows.
func RowsFromHouseholds(hh []Household) []Row {
	rows := make([]Row, len(hh))
	for i, h := range hh {
		r := Row{HouseholdID: h.ID, HeadName: h.HeadName, IDNumber: h.HeadID.Full(), VillageCode: h.Area,
			Type: h.Type, Cause: h.Cause, Phone: h.Phone}
		if h.Size > 0 {
			r.Size = strconv.Itoa(h.Size)
		}
		if h.ExitYear > 0 {
			r.ExitYear = strconv.Itoa(h.ExitYear)
		}
		r.Status = h.Status.Label()
		rows[i] = r
	}
	return rows
}

package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/xuri/excelize/v2"

	"github.com/ruhu-dev/ruhu/rules"
)

// Register column headers.
const (
	ColHouseholdID = "户编号"
	ColHeadName    = "户主姓名"
	ColIDNumber    = "身份证号"
	ColVillage     = "村代码"
	ColType        = "户类型"
	ColStatus      = "户状态"
	ColSize        = "家庭人口"
	ColCause       = "致贫原因"
	ColPhone       = "联系电话"
	ColExitYear    = "脱贫年度"
)

// Columns returns every column the importer reads, in the order
// WriteRegister writes them.
func Columns() []string {
	return []string{ColHouseholdID, ColHeadName, ColIDNumber, ColVillage, ColType, ColStatus, ColSize, ColCause, ColPhone, ColExitYear}
}

// RequiredColumns returns the columns a register must have.
func RequiredColumns() []string { return []string{ColHeadName, ColIDNumber, ColVillage} }

// Member is a registered member of a household. The register lists heads
// only, so an imported household has its head as its one member.
type Member struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	IDNumber IDNumber `json:"id_number"`
	Relation string   `json:"relation"`
}

// Household is one good row of a register.
type Household struct {
	ID string `json:"id"`
	// Area is the 12-digit village code.
	Area     string   `json:"area"`
	HeadName string   `json:"head_name"`
	HeadID   IDNumber `json:"head_id"`
	// HeadIDMasked is HeadID masked for display.
	HeadIDMasked string       `json:"head_id_masked"`
	Status       rules.Status `json:"status"`
	// ExitYear is the 脱贫年度, 0 when none.
	ExitYear int `json:"exit_year"`
	// Type is 户类型 as written; LowIncome (低保) and FiveGuarantees (五保)
	// are the flags it implies.
	Type           string   `json:"type"`
	LowIncome      bool     `json:"low_income"`
	FiveGuarantees bool     `json:"five_guarantees"`
	Size           int      `json:"size"`
	Cause          string   `json:"cause"`
	Phone          string   `json:"phone"`
	Members        []Member `json:"members"`
	// Row is the row of the register the household came from (as Excel
	// numbers it).
	Row int `json:"row"`
}

// Row problem codes (RowError.Code). Callers and the UI branch on them.
const (
	CodeMissingName     = "missing_name"
	CodeMissingIDNumber = "missing_id_number"
	CodeBadIDFormat     = "bad_id_format"
	CodeBadIDChecksum   = "bad_id_checksum"
	CodeBadIDBirthDate  = "bad_id_birth_date"
	CodeMissingVillage  = "missing_village"
	CodeBadVillageCode  = "bad_village_code"
	CodeUnknownVillage  = "unknown_village"
	CodeDuplicate       = "duplicate_household"
	CodeBadType         = "bad_household_type"
	CodeBadStatus       = "bad_status"
	CodeBadSize         = "bad_size"
	CodeBadExitYear     = "bad_exit_year"
	CodeBadPhone        = "bad_phone"
)

// RowError is one problem of one row. A row with any problem is not
// imported; every problem of it is reported.
type RowError struct {
	// Row is the row number Excel shows.
	Row    int    `json:"row"`
	Column string `json:"column"`
	Code   string `json:"code"`
	// Reason is for field staff, in Chinese; identity numbers in it are
	// masked.
	Reason string `json:"reason"`
}

func (e RowError) Error() string {
	return fmt.Sprintf("第%d行 %s: %s", e.Row, e.Column, e.Reason)
}

// Result is what Parse found: the good rows as households and every
// problem of the bad rows, in row order.
type Result struct {
	Sheet      string      `json:"sheet"`
	HeaderRow  int         `json:"header_row"`
	Households []Household `json:"households"`
	Problems   []RowError  `json:"problems"`
}

// ErrMissingColumns is wrapped by the error Parse returns when required
// columns are missing; MissingColumnsError names them.
var ErrMissingColumns = errors.New("register lacks required columns")

// MissingColumnsError names the required columns a register lacks.
type MissingColumnsError struct{ Columns []string }

func (e *MissingColumnsError) Error() string {
	return "花名册缺少必填列: " + strings.Join(e.Columns, "、")
}

// Unwrap makes errors.Is(err, ErrMissingColumns) true.
func (e *MissingColumnsError) Unwrap() error { return ErrMissingColumns }

// Parse reads a register (XLSX) and returns its households and the
// problems of its bad rows. knownVillages is the set of village codes the
// caller knows; nil accepts every well-formed 12-digit code. Parse fails
// as a whole only when the file cannot be read or lacks required columns
// (a *MissingColumnsError).
func Parse(r io.Reader, knownVillages []string) (*Result, error) {
	f, err := excelize.OpenReader(r)
	if err != nil {
		return nil, fmt.Errorf("open register: %w", err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, errors.New("open register: workbook has no sheet")
	}
	res := &Result{Sheet: sheets[0]}
	rows, err := f.Rows(res.Sheet)
	if err != nil {
		return nil, fmt.Errorf("read register sheet %s: %w", res.Sheet, err)
	}
	defer rows.Close()
	var known map[string]bool
	if knownVillages != nil {
		known = make(map[string]bool, len(knownVillages))
		for _, v := range knownVillages {
			known[v] = true
		}
	}
	p := parser{known: known, firstRowOfID: map[string]int{}, firstRowOfHousehold: map[string]int{}}
	rowNum := 0
	for rows.Next() {
		rowNum++
		cells, err := rows.Columns()
		if err != nil {
			return nil, fmt.Errorf("read register row %d: %w", rowNum, err)
		}
		if p.col == nil {
			if rowNum > 10 {
				break
			}
			if isHeader(cells) {
				res.HeaderRow = rowNum
				if err := p.setHeader(cells); err != nil {
					return nil, err
				}
			}
			continue
		}
		if blank(cells) {
			continue
		}
		h, problems := p.row(rowNum, cells)
		if len(problems) > 0 {
			res.Problems = append(res.Problems, problems...)
			continue
		}
		res.Households = append(res.Households, h)
	}
	if err := rows.Error(); err != nil {
		return nil, fmt.Errorf("read register sheet %s: %w", res.Sheet, err)
	}
	if p.col == nil {
		return nil, &MissingColumnsError{Columns: RequiredColumns()}
	}
	return res, nil
}

type parser struct {
	col                 map[string]int // column header → cell index
	known               map[string]bool
	firstRowOfID        map[string]int
	firstRowOfHousehold map[string]int
}

// normalizeHeader removes spaces, required-field stars and bracketed notes.
func normalizeHeader(s string) string {
	if i := strings.IndexAny(s, "(（"); i >= 0 {
		s = s[:i]
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '*' || r == '＊' {
			return -1
		}
		return r
	}, s)
	return s
}

func isHeader(cells []string) bool {
	for _, c := range cells {
		if h := normalizeHeader(c); h == ColHeadName || h == ColIDNumber {
			return true
		}
	}
	return false
}

func (p *parser) setHeader(cells []string) error {
	p.col = map[string]int{}
	for i, c := range cells {
		h := normalizeHeader(c)
		if _, dup := p.col[h]; !dup && h != "" {
			p.col[h] = i
		}
	}
	var missing []string
	for _, c := range RequiredColumns() {
		if _, ok := p.col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if missing != nil {
		return &MissingColumnsError{Columns: missing}
	}
	return nil
}

func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

func (p *parser) cell(cells []string, col string) string {
	i, ok := p.col[col]
	if !ok || i >= len(cells) {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(cells[i], "\u3000", " "))
}

type householdType struct {
	lowIncome, fiveGuarantees bool
	status                    rules.Status
}

// householdTypeOf maps 户类型 to the flags and status it implies.
func householdTypeOf(t string) (householdType, bool) {
	switch t {
	case "", "一般贫困户", "一般户":
		return householdType{}, true
	case "低保贫困户", "低保户":
		return householdType{lowIncome: true}, true
	case "五保贫困户", "五保户", "特困供养户":
		return householdType{fiveGuarantees: true}, true
	case "脱贫不稳定户", "边缘易致贫户", "突发严重困难户":
		return householdType{status: rules.StatusMonitored}, true
	case "返贫户":
		return householdType{status: rules.StatusFellBack}, true
	}
	return householdType{}, false
}

// statusOf maps 户状态 words to a status.
func statusOf(s string) (rules.Status, bool) {
	switch s {
	case "未脱贫", "贫困":
		return rules.StatusPoor, true
	case "已脱贫", "脱贫":
		return rules.StatusExited, true
	case "监测户", "监测对象":
		return rules.StatusMonitored, true
	case "返贫", "返贫户":
		return rules.StatusFellBack, true
	}
	return "", false
}

func (p *parser) row(n int, cells []string) (Household, []RowError) {
	var problems []RowError
	bad := func(col, code, reason string) {
		problems = append(problems, RowError{Row: n, Column: col, Code: code, Reason: reason})
	}
	h := Household{Row: n}
	h.HeadName = p.cell(cells, ColHeadName)
	if h.HeadName == "" {
		bad(ColHeadName, CodeMissingName, "户主姓名为空")
	}
	id := NormalizeIDNumber(p.cell(cells, ColIDNumber))
	switch err := ValidateIDNumber(id); {
	case id == "":
		bad(ColIDNumber, CodeMissingIDNumber, "身份证号为空")
	case errors.Is(err, ErrIDFormat):
		bad(ColIDNumber, CodeBadIDFormat, fmt.Sprintf("身份证号格式错误（应为18位）: %s", MaskIDNumber(id)))
	case errors.Is(err, ErrIDBirthDate):
		bad(ColIDNumber, CodeBadIDBirthDate, fmt.Sprintf("身份证号中的出生日期不存在: %s", MaskIDNumber(id)))
	case errors.Is(err, ErrIDChecksum):
		bad(ColIDNumber, CodeBadIDChecksum, fmt.Sprintf("身份证号校验位错误: %s", MaskIDNumber(id)))
	}
	h.HeadID, h.HeadIDMasked = IDNumber(id), MaskIDNumber(id)
	h.Area = p.cell(cells, ColVillage)
	switch {
	case h.Area == "":
		bad(ColVillage, CodeMissingVillage, "村代码为空")
	case len(h.Area) != 12 || !digits(h.Area):
		bad(ColVillage, CodeBadVillageCode, fmt.Sprintf("村代码应为12位数字: %q", h.Area))
	case p.known != nil && !p.known[h.Area]:
		bad(ColVillage, CodeUnknownVillage, fmt.Sprintf("村代码不存在: %s", h.Area))
	}
	h.Type = p.cell(cells, ColType)
	kind, ok := householdTypeOf(h.Type)
	if !ok {
		bad(ColType, CodeBadType, fmt.Sprintf("未知户类型: %q", h.Type))
	}
	h.LowIncome, h.FiveGuarantees = kind.lowIncome, kind.fiveGuarantees
	if y := strings.TrimSuffix(p.cell(cells, ColExitYear), "年"); y != "" {
		v, err := strconv.Atoi(y)
		if err != nil || v < 2014 || v > 2100 {
			bad(ColExitYear, CodeBadExitYear, fmt.Sprintf("脱贫年度应为2014至2100的年份: %q", y))
		}
		h.ExitYear = v
	}
	switch s := p.cell(cells, ColStatus); {
	case s != "":
		st, ok := statusOf(s)
		if !ok {
			bad(ColStatus, CodeBadStatus, fmt.Sprintf("未知户状态: %q", s))
		}
		h.Status = st
	case kind.status != "":
		h.Status = kind.status
	case h.ExitYear != 0:
		h.Status = rules.StatusExited
	default:
		h.Status = rules.StatusPoor
	}
	if h.Status == rules.StatusPoor && h.ExitYear != 0 {
		bad(ColStatus, CodeBadStatus, "户状态为未脱贫，却填写了脱贫年度")
	}
	if s := p.cell(cells, ColSize); s != "" {
		v, err := strconv.Atoi(strings.TrimSuffix(s, "人"))
		if err != nil || v < 1 || v > 30 {
			bad(ColSize, CodeBadSize, fmt.Sprintf("家庭人口应为1至30: %q", s))
		}
		h.Size = v
	}
	h.Cause = p.cell(cells, ColCause)
	h.Phone = p.cell(cells, ColPhone)
	for _, r := range h.Phone {
		if !(r >= '0' && r <= '9') && r != '-' && r != ' ' && r != '+' {
			bad(ColPhone, CodeBadPhone, fmt.Sprintf("联系电话只能含数字、空格、-和+: %q", h.Phone))
			break
		}
	}
	h.ID = p.cell(cells, ColHouseholdID)
	if h.ID == "" && len(problems) == 0 {
		h.ID = DeriveHouseholdID(h.Area, id)
	}
	// Duplicates: the same head identity number, or the same household id.
	dupID := false
	if id != "" {
		if first, seen := p.firstRowOfID[id]; seen {
			bad(ColIDNumber, CodeDuplicate, fmt.Sprintf("与第%d行重复（同一户主身份证号 %s）", first, MaskIDNumber(id)))
			dupID = true
		} else {
			p.firstRowOfID[id] = n
		}
	}
	if h.ID != "" && !dupID {
		if first, seen := p.firstRowOfHousehold[h.ID]; seen {
			bad(ColHouseholdID, CodeDuplicate, fmt.Sprintf("与第%d行重复（同一户编号 %s）", first, h.ID))
		} else {
			p.firstRowOfHousehold[h.ID] = n
		}
	}
	h.Members = []Member{{ID: h.ID + "-1", Name: h.HeadName, IDNumber: h.HeadID, Relation: "户主"}}
	return h, problems
}

// DeriveHouseholdID returns the id of a household whose register row has
// no 户编号: a hash of its village code and head's identity number, so the
// same row always gets the same id.
func DeriveHouseholdID(villageCode, idNumber string) string {
	sum := sha256.Sum256([]byte("ruhu/household/v1\x00" + villageCode + "\x00" + NormalizeIDNumber(idNumber)))
	return "hh-" + hex.EncodeToString(sum[:10])
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

package importer_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/server/importer"

	"github.com/ruhu-dev/ruhu/rules"
)

const village = "340102001001"

var villages = []string{village, "340102001002"}

func writeFile(t *testing.T, write func(*bytes.Buffer) error) string {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "花名册.xlsx")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func parseFile(t *testing.T, path string, known []string) (*importer.Result, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return importer.Parse(f, known)
}

func TestValidateIDNumber(t *testing.T) {
	tests := []struct {
		id   string
		want error
	}{
		{"11010519491231002X", nil},
		{"110105194912310021", importer.ErrIDChecksum},
		{"11010519490231002X", importer.ErrIDBirthDate}, // 2月31日
		{"110105202802290010", nil},                     // 2028 is a leap year
		{"110105202702290013", importer.ErrIDBirthDate}, // 2027 is not
		{"11010519491231002", importer.ErrIDFormat},
		{"1101051949123100A2", importer.ErrIDFormat},
		{"11010519491231002x", importer.ErrIDFormat}, // Parse normalises; the validator does not
	}
	for _, tc := range tests {
		if got := importer.ValidateIDNumber(tc.id); !errors.Is(got, tc.want) && got != tc.want {
			t.Errorf("ValidateIDNumber(%s) = %v, want %v", importer.MaskIDNumber(tc.id), got, tc.want)
		}
	}
	if c := importer.IDCheckChar("11010520280229001"); string(c) != "0" {
		t.Fatalf("check char of the leap-day example = %c", c)
	}
	if got := importer.NormalizeIDNumber(" 11010519491231002x "); got != "11010519491231002X" {
		t.Fatalf("normalised %s", got)
	}
}

func TestRoundTripAndReimport(t *testing.T) {
	rows := importer.ExampleRows(village, 40)
	first, err := parseFile(t, writeFile(t, func(b *bytes.Buffer) error { return importer.WriteRegister(b, rows) }), villages)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Problems) != 0 || len(first.Households) != 40 || first.HeaderRow != 2 {
		t.Fatalf("problems %v, %d households, header row %d", first.Problems, len(first.Households), first.HeaderRow)
	}
	for i, h := range first.Households {
		r := rows[i]
		if h.HeadName != r.HeadName || h.HeadID.Full() != r.IDNumber || h.Area != village || h.Row != i+3 ||
			h.HeadIDMasked != importer.MaskIDNumber(r.IDNumber) || !strings.HasPrefix(h.ID, "hh-") ||
			fmt.Sprint(h.Size) != r.Size || h.Cause != r.Cause || h.Phone != r.Phone {
			t.Fatalf("row %d: %+v from %+v", i, h, r)
		}
		if (r.ExitYear != "") != (h.Status == rules.StatusExited || (h.ExitYear != 0)) {
			t.Fatalf("row %d status %s exit %d from %q", i, h.Status, h.ExitYear, r.ExitYear)
		}
	}
	// Re-importing the same file changes nothing, derived ids included.
	again, err := parseFile(t, writeFile(t, func(b *bytes.Buffer) error { return importer.WriteRegister(b, rows) }), villages)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, again) {
		t.Fatal("re-import differs")
	}
	// Writing the households back and importing them gives the same households.
	back, err := parseFile(t, writeFile(t, func(b *bytes.Buffer) error {
		return importer.WriteRegister(b, importer.RowsFromHouseholds(first.Households))
	}), villages)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first.Households, back.Households) {
		for i := range first.Households {
			if !reflect.DeepEqual(first.Households[i], back.Households[i]) {
				t.Fatalf("household %d: %+v != %+v", i, first.Households[i], back.Households[i])
			}
		}
	}
}

func TestBadRowsAreReportedRowByRowAndGoodRowsKept(t *testing.T) {
	good := importer.ExampleRows(village, 6)
	badChecksum := good[1]
	last := badChecksum.IDNumber[17]
	badChecksum.IDNumber = badChecksum.IDNumber[:17] + map[bool]string{true: "1", false: "2"}[last != '1']
	unknownVillage := good[2]
	unknownVillage.VillageCode = "340102009009"
	duplicate := good[0]
	duplicate.HeadName = "另一人"
	badBirth := good[3]
	badBirth.IDNumber = badBirth.IDNumber[:6] + "20260931" + badBirth.IDNumber[14:17]
	badBirth.IDNumber += string(importer.IDCheckChar(badBirth.IDNumber))
	noName := good[4]
	noName.HeadName = ""
	rows := []importer.Row{
		good[0],        // row 3
		badChecksum,    // row 4
		unknownVillage, // row 5
		{},             // row 6: blank, skipped
		duplicate,      // row 7
		good[5],        // row 8
		badBirth,       // row 9
		noName,         // row 10
	}
	res, err := parseFile(t, writeFile(t, func(b *bytes.Buffer) error { return importer.WriteRegister(b, rows) }), villages)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		row       int
		code, col string
	}{
		{4, importer.CodeBadIDChecksum, "身份证号"},
		{5, importer.CodeUnknownVillage, "村代码"},
		{7, importer.CodeDuplicate, "身份证号"},
		{9, importer.CodeBadIDBirthDate, "身份证号"},
		{10, importer.CodeMissingName, "户主姓名"},
	}
	if len(res.Problems) != len(want) {
		t.Fatalf("problems %v", res.Problems)
	}
	for i, w := range want {
		p := res.Problems[i]
		if p.Row != w.row || p.Code != w.code || p.Column != w.col {
			t.Errorf("problem %d = %+v, want row %d %s", i, p, w.row, w.code)
		}
		msg := p.Error()
		if !strings.HasPrefix(msg, fmt.Sprintf("第%d行", w.row)) {
			t.Errorf("message %q lacks the row", msg)
		}
		for _, r := range rows {
			if r.IDNumber != "" && strings.Contains(msg, r.IDNumber) {
				t.Errorf("message %q holds a full identity number", msg)
			}
		}
	}
	if !strings.Contains(res.Problems[2].Reason, "第3行") {
		t.Errorf("duplicate does not name the first row: %s", res.Problems[2].Reason)
	}
	if len(res.Households) != 2 || res.Households[0].Row != 3 || res.Households[1].Row != 8 {
		t.Fatalf("good rows: %+v", res.Households)
	}
}

func TestHeaderOrderNotesAndUnknownColumns(t *testing.T) {
	row := importer.ExampleRows(village, 1)[0]
	headers := []string{"备注", "村 代 码", "身份证号（18位）", "*户主姓名", "户类型", "户编号", "脱贫年度", "家庭人口"}
	cells := [][]string{{"随便写", village, strings.ToLower(row.IDNumber), row.HeadName, "五保贫困户", "H-001", "2019年", "2"}}
	res, err := parseFile(t, writeFile(t, func(b *bytes.Buffer) error { return importer.WriteSheet(b, headers, cells) }), villages)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 0 || len(res.Households) != 1 {
		t.Fatalf("result %+v", res)
	}
	h := res.Households[0]
	if h.ID != "H-001" || h.HeadName != row.HeadName || !h.FiveGuarantees || h.LowIncome || h.Status != rules.StatusExited ||
		h.ExitYear != 2019 || h.Size != 2 || h.Members[0].Name != row.HeadName || h.Members[0].Relation != "户主" {
		t.Fatalf("household %+v", h)
	}
}

func TestTypesAndStatuses(t *testing.T) {
	row := importer.ExampleRows(village, 1)[0]
	tests := []struct {
		typ, status, exit string
		want              rules.Status
		low, five         bool
		code              string
	}{
		{"一般贫困户", "", "", rules.StatusPoor, false, false, ""},
		{"低保贫困户", "", "", rules.StatusPoor, true, false, ""},
		{"边缘易致贫户", "", "", rules.StatusMonitored, false, false, ""},
		{"返贫户", "", "", rules.StatusFellBack, false, false, ""},
		{"一般贫困户", "已脱贫", "", rules.StatusExited, false, false, ""},
		{"一般贫困户", "未脱贫", "2019", "", false, false, importer.CodeBadStatus},
		{"富裕户", "", "", "", false, false, importer.CodeBadType},
		{"", "", "2013", "", false, false, importer.CodeBadExitYear},
	}
	for _, tc := range tests {
		r := row
		r.Type, r.Status, r.ExitYear = tc.typ, tc.status, tc.exit
		res, err := parseFile(t, writeFile(t, func(b *bytes.Buffer) error { return importer.WriteRegister(b, []importer.Row{r}) }), nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.code != "" {
			if len(res.Problems) == 0 || res.Problems[0].Code != tc.code {
				t.Errorf("%+v: problems %v, want %s", tc, res.Problems, tc.code)
			}
			continue
		}
		if len(res.Households) != 1 {
			t.Errorf("%+v: %v", tc, res.Problems)
			continue
		}
		h := res.Households[0]
		if h.Status != tc.want || h.LowIncome != tc.low || h.FiveGuarantees != tc.five {
			t.Errorf("%+v: got %s low=%v five=%v", tc, h.Status, h.LowIncome, h.FiveGuarantees)
		}
	}
}

func TestMissingRequiredColumns(t *testing.T) {
	path := writeFile(t, func(b *bytes.Buffer) error {
		return importer.WriteSheet(b, []string{"户主姓名", "家庭人口"}, [][]string{{"王五", "3"}})
	})
	_, err := parseFile(t, path, villages)
	var mc *importer.MissingColumnsError
	if !errors.As(err, &mc) || !errors.Is(err, importer.ErrMissingColumns) || strings.Join(mc.Columns, ",") != "身份证号,村代码" {
		t.Fatalf("error %v", err)
	}
	if !strings.Contains(err.Error(), "身份证号") || !strings.Contains(err.Error(), "村代码") {
		t.Fatalf("message %q does not name the columns", err.Error())
	}
	if _, err := importer.Parse(strings.NewReader("not a workbook"), nil); err == nil {
		t.Fatal("garbage parsed")
	}
}

func TestIdentityNumberNeverPrintedInFull(t *testing.T) {
	rows := importer.ExampleRows(village, 1)
	res, err := parseFile(t, writeFile(t, func(b *bytes.Buffer) error { return importer.WriteRegister(b, rows) }), villages)
	if err != nil {
		t.Fatal(err)
	}
	h := res.Households[0]
	js, _ := json.Marshal(h)
	for _, s := range []string{fmt.Sprintf("%v", h), fmt.Sprintf("%+v", h), fmt.Sprintf("%#v", h), fmt.Sprint(h.HeadID), string(js)} {
		if strings.Contains(s, rows[0].IDNumber) {
			t.Fatalf("full identity number printed: %s", s)
		}
	}
	if h.HeadID.Full() != rows[0].IDNumber {
		t.Fatal("Full lost the number")
	}
}

func TestTemplateImports(t *testing.T) {
	res, err := parseFile(t, writeFile(t, func(b *bytes.Buffer) error { return importer.WriteTemplate(b) }), nil)
	if err != nil || len(res.Households) != 3 || len(res.Problems) != 0 {
		t.Fatalf("template: %v %+v", err, res)
	}
}

func FuzzValidateIDNumber(f *testing.F) {
	f.Add("11010519491231002X")
	f.Add("110105194912310021")
	f.Fuzz(func(t *testing.T, id string) {
		if importer.ValidateIDNumber(id) == nil {
			if len(id) != 18 || importer.IDCheckChar(id[:17]) != id[17] {
				t.Fatalf("accepted %q", id)
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	var b bytes.Buffer
	if err := importer.WriteRegister(&b, importer.ExampleRows(village, 2)); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte("PK\x03\x04garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := importer.Parse(bytes.NewReader(data), villages)
		if err != nil {
			return
		}
		for _, h := range res.Households {
			if importer.ValidateIDNumber(h.HeadID.Full()) != nil || h.HeadName == "" {
				t.Fatalf("bad household accepted: %+v", h)
			}
		}
	})
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/client-sdk/fieldapp"
	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// typedValue turns a --value from the command line into the JSON the
// schema asks for: for a field the collection's form has as one input,
// the text typed by the field's type (13900000001 stays the string a
// phone field is; 3 becomes a number for a number field; a quoted JSON
// string is unquoted first, as scripts used to pass it); for an object
// field or one the form lacks, JSON, else the text as a string.
func typedValue(reg *schemas.Registry, collection, field, text string) (json.RawMessage, error) {
	form, err := fieldapp.BuildForm(reg, collection)
	if err != nil {
		return nil, err
	}
	for _, fd := range form.Fields {
		if fd.Name != field || fd.Widget == fieldapp.WidgetGroup || fd.Widget == fieldapp.WidgetGPS || fd.Widget == fieldapp.WidgetPhotos {
			continue
		}
		var quoted string
		if json.Unmarshal([]byte(text), &quoted) == nil {
			text = quoted
		}
		vals, err := form.Values(map[string]string{field: text})
		if err != nil {
			return nil, err
		}
		if v, ok := vals[field]; ok {
			return v, nil
		}
		return nil, usageError(fmt.Sprintf("household set: --value 为空：%s 需要一个值", field))
	}
	if json.Valid([]byte(text)) {
		return json.RawMessage(text), nil
	}
	return json.Marshal(text)
}

// today is the China date of the tablet's clock, as date fields hold it.
func (t *tabletCLI) today() string { return t.c.Now().In(chinaTime).Format(time.DateOnly) }

// assignmentAdd makes an officer responsible for a household (township
// staff; the server refuses others at sync).
func (t *tabletCLI) assignmentAdd(ctx context.Context, args []string) error {
	fs := t.flags("assignment add")
	officer := fs.String("officer", "", "the officer's username")
	household := fs.String("household", "", "household id")
	start := fs.String("start", "", "start date, 2026-11-01 (default: today)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *officer == "" || *household == "" {
		return usageError("assignment add: 需要 --officer 和 --household")
	}
	h, err := t.c.Get(client.CollectionHouseholds, *household)
	if err != nil {
		return err
	}
	if *start == "" {
		*start = t.today()
	}
	if _, err := rules.ParseDate(*start); err != nil {
		return usageError(fmt.Sprintf("assignment add: --start %q 不是日期（2026-11-01）", *start))
	}
	id := t.c.NewID()
	fields, err := encodeFields(map[string]any{"officer": *officer, "household_id": h.ID, "active": true, "start_date": *start})
	if err != nil {
		return err
	}
	if _, err := t.c.Save(ctx, client.CollectionAssignments, id, h.Area, fields); err != nil {
		return err
	}
	if t.json {
		t.emit(map[string]any{"ok": true, "id": id, "officer": *officer, "household_id": h.ID})
		return nil
	}
	fmt.Fprintf(t.stdout, "已分配：%s 负责 %s（户主 %s），分配编号 %s，待同步\n", *officer, h.ID, h.String("head_name"), id)
	return nil
}

// assignmentEnd ends an assignment: inactive from the end date on.
func (t *tabletCLI) assignmentEnd(ctx context.Context, args []string) error {
	fs := t.flags("assignment end")
	id := fs.String("id", "", "assignment id")
	end := fs.String("end", "", "end date, 2026-11-30 (default: today)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id == "" {
		return usageError("assignment end: 需要 --id")
	}
	if _, err := t.c.Get(client.CollectionAssignments, *id); err != nil {
		return err
	}
	if *end == "" {
		*end = t.today()
	}
	if _, err := rules.ParseDate(*end); err != nil {
		return usageError(fmt.Sprintf("assignment end: --end %q 不是日期（2026-11-30）", *end))
	}
	fields, err := encodeFields(map[string]any{"active": false, "end_date": *end})
	if err != nil {
		return err
	}
	if _, err := t.c.Save(ctx, client.CollectionAssignments, *id, "", fields); err != nil {
		return err
	}
	if t.json {
		t.emit(map[string]any{"ok": true, "id": *id, "end_date": *end})
		return nil
	}
	fmt.Fprintf(t.stdout, "已结束分配 %s（%s），待同步\n", *id, *end)
	return nil
}

// reportedError is an error the command has already printed as its JSON
// object; runTablet does not print a second one.
type reportedError struct{ error }

func (e reportedError) Unwrap() error { return e.error }

// importProblem is one line of a visit import that cannot be saved.
type importProblem struct {
	Line    int    `json:"line"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// visitImport records the visits of a JSON Lines file, one visit object a
// line (household_id, checklist, notes, answered_by_*, optional id,
// visited_at and gps; officer is the signed-in user). Every line is
// checked first — the household on the tablet, the visits schema — and
// nothing is saved unless all pass, so a corrected file can be imported
// again; a line whose id is already on the tablet is skipped, so a file
// with ids imports once however often it is run.
func (t *tabletCLI) visitImport(ctx context.Context, args []string) error {
	fs := t.flags("visit import")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("visit import: 需要一个 JSON Lines 文件：ruhu tablet visit import 走访.jsonl")
	}
	file := fs.Arg(0)
	raw, err := os.ReadFile(file)
	if err != nil {
		return syncengine.Errorf(syncengine.EINVALID, "visit import: %v", err)
	}
	st, err := t.c.Status()
	if err != nil {
		return err
	}
	type visit struct {
		line   int
		id     string
		area   string
		fields map[string]json.RawMessage
	}
	var visits []visit
	var problems []importProblem
	skipped := 0
	bad := func(line int, err error) {
		problems = append(problems, importProblem{Line: line, Code: syncengine.ErrorCode(err), Message: syncengine.ErrorMessage(err)})
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &fields); err != nil {
			bad(n, syncengine.Errorf(syncengine.EINVALID, "不是 JSON 对象：%v", err))
			continue
		}
		id := jsonText(fields["id"])
		delete(fields, "id")
		if id != "" {
			if _, err := t.c.Get(client.CollectionVisits, id); err == nil {
				skipped++
				continue
			}
		}
		if off, ok := fields[client.FieldOfficer]; ok && jsonText(off) != st.User {
			bad(n, syncengine.Errorf(syncengine.EINVALID, "officer %s 不是当前用户 %s", jsonText(off), st.User))
			continue
		}
		h, err := t.c.Get(client.CollectionHouseholds, jsonText(fields[client.FieldHousehold]))
		if err != nil {
			bad(n, err)
			continue
		}
		fields[client.FieldOfficer], _ = json.Marshal(st.User)
		if _, ok := fields[client.FieldVisitedAt]; !ok {
			fields[client.FieldVisitedAt], _ = json.Marshal(t.c.Now().In(chinaTime).Format(time.RFC3339))
		}
		if err := t.reg.ValidateRecord(client.CollectionVisits, fields); err != nil {
			bad(n, syncengine.Errorf(syncengine.EINVALID, "%v", err))
			continue
		}
		visits = append(visits, visit{line: n, id: id, area: h.Area, fields: fields})
	}
	if err := sc.Err(); err != nil {
		return syncengine.Errorf(syncengine.EINVALID, "visit import: %s: %v", file, err)
	}
	if len(problems) > 0 {
		err := syncengine.Errorf(syncengine.EINVALID, "visit import: %d 行有误，未导入任何走访", len(problems))
		if t.json {
			t.emit(map[string]any{"ok": false, "code": syncengine.EINVALID, "message": syncengine.ErrorMessage(err),
				"imported": 0, "skipped": skipped, "errors": problems})
			return reportedError{err}
		}
		for _, p := range problems {
			fmt.Fprintf(t.stderr, "第 %d 行：%s（%s）\n", p.Line, p.Message, p.Code)
		}
		return err
	}
	ids := []string{}
	for _, v := range visits {
		id := v.id
		if id == "" {
			id = t.c.NewID()
		}
		if _, err := t.c.Save(ctx, client.CollectionVisits, id, v.area, v.fields); err != nil {
			return fmt.Errorf("visit import: line %d (after %d saved): %w", v.line, len(ids), err)
		}
		ids = append(ids, id)
	}
	if t.json {
		t.emit(map[string]any{"ok": true, "imported": len(ids), "skipped": skipped, "ids": ids})
		return nil
	}
	fmt.Fprintf(t.stdout, "已导入 %d 次走访（跳过已有 %d 次），待同步\n", len(ids), skipped)
	return nil
}

func jsonText(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

func encodeFields(m map[string]any) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", k, err)
		}
		out[k] = b
	}
	return out, nil
}

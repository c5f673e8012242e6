package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/collection"
)

// recordSave saves fields of any collection the schemas know — an income
// survey, an exit step, a ledger item's rectification — so every record
// the procedures need can be written from a script as from the field app.
// The fields are a JSON object (inline or @file), validated by the
// collection's schema before anything is stored; the area is the
// household's unless given.
func (t *tabletCLI) recordSave(ctx context.Context, args []string) error {
	fs := t.flags("record save")
	coll := fs.String("collection", "", "collection, e.g. income_surveys, exit_steps, ledger_items")
	id := fs.String("id", "", "record id (default: a new id)")
	household := fs.String("household", "", "household id whose area the record takes")
	area := fs.String("area", "", "12-digit area code (instead of --household)")
	fieldsArg := fs.String("fields", "", `fields as a JSON object, or @FILE holding one: '{"income_year":"2025-2026",…}'`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *coll == "" || *fieldsArg == "" {
		return usageError("record save: 需要 --collection 和 --fields")
	}
	if !slices.Contains(collection.All(), *coll) {
		return usageError(fmt.Sprintf("record save: 未知的表单 %q", *coll))
	}
	raw := []byte(*fieldsArg)
	if name, ok := strings.CutPrefix(*fieldsArg, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return usageError(fmt.Sprintf("record save: 读取 %s: %v", name, err))
		}
		raw = b
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.More() {
		return usageError("record save: --fields 必须是一个 JSON 对象")
	}
	if *area == "" && *id != "" {
		if prev, err := t.c.Get(*coll, *id); err == nil {
			*area = prev.Area
		}
	}
	if *area == "" {
		if *household == "" {
			return usageError("record save: 需要 --household 或 --area（新记录的区域）")
		}
		h, err := t.c.Get(collection.Households, *household)
		if err != nil {
			return err
		}
		*area = h.Area
	}
	if *id == "" {
		*id = t.c.NewID()
	}
	if _, err := t.c.Save(ctx, *coll, *id, *area, fields); err != nil {
		return err
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	if t.json {
		t.emit(map[string]any{"ok": true, "collection": *coll, "id": *id, "area": *area, "fields": names})
		return nil
	}
	fmt.Fprintf(t.stdout, "已保存 %s/%s（%s），待同步\n", *coll, *id, strings.Join(names, ", "))
	return nil
}

// recordShow prints one record of any collection as this tablet holds it.
func (t *tabletCLI) recordShow(args []string) error {
	fs := t.flags("record show")
	coll := fs.String("collection", "", "collection")
	id := fs.String("id", "", "record id")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *coll == "" || *id == "" {
		return usageError("record show: 需要 --collection 和 --id")
	}
	r, err := t.c.Get(*coll, *id)
	if err != nil {
		return err
	}
	if t.json {
		t.emit(recordJSON(r))
		return nil
	}
	fmt.Fprintf(t.stdout, "%s/%s  区域 %s%s\n", r.Collection, r.ID, r.Area, pendingMark(r))
	names := make([]string, 0, len(r.Values))
	for k := range r.Values {
		names = append(names, k)
	}
	sort.Strings(names)
	rows := [][]string{{"字段", "值"}}
	for _, k := range names {
		rows = append(rows, []string{k, string(r.Values[k])})
	}
	writeTable(t.stdout, rows)
	return nil
}

func recordJSON(r *client.RecordView) map[string]any {
	return map[string]any{"ok": true, "collection": r.Collection, "id": r.ID, "area": r.Area,
		"pending": r.Pending, "deleted": r.Deleted, "values": r.Values}
}

func pendingMark(r *client.RecordView) string {
	if r.Pending {
		return "  （待同步）"
	}
	return ""
}

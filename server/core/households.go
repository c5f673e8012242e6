package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/importer"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Import problem codes added to the importer's (importer.Code*).
const (
	// CodeUnknownCause: 致贫原因 is not one of the causes the schema knows.
	CodeUnknownCause = "unknown_cause"
	// CodeOutOfScope: the row's village is outside the importer's scope.
	CodeOutOfScope = "out_of_scope"
	// CodeInvalidRecord: the row makes a record the schema refuses.
	CodeInvalidRecord = "invalid_record"
	// CodeRecordClash: the row's household id names a stored record that
	// cannot take it (another village, or deleted).
	CodeRecordClash = "record_clash"
)

// ImportDevice is the device named on the ops an import writes.
const ImportDevice = "import"

// HouseholdImport is the outcome of importing a household register.
type HouseholdImport struct {
	// Imported counts rows that changed the store; Unchanged counts good
	// rows whose records already held exactly what the row says (their ops
	// were applied by an earlier import of the same rows).
	Imported  int `json:"imported"`
	Unchanged int `json:"unchanged"`
	// Problems lists every problem of every refused row, in row order.
	// Identity numbers in them are masked.
	Problems []importer.RowError `json:"problems"`
}

// causeCodes maps the 致贫原因 words of registers to the schema's codes.
var causeCodes = map[string]string{
	"因病": "illness", "因残": "disability", "因学": "education", "因灾": "disaster",
	"缺土地": "lack_land", "缺地": "lack_land", "缺水": "lack_water", "缺技术": "lack_skills",
	"缺劳力": "lack_labour", "缺劳动力": "lack_labour", "缺资金": "lack_funds",
	"交通条件落后": "transport", "交通落后": "transport", "自身发展动力不足": "self_motivation",
	"其他": "other", "其它": "other",
}

// ImportHouseholds reads a household register (XLSX, see package
// importer) and writes each good row as a households record and its
// head's members record, through syncengine.Apply in one transaction.
//
// Only township, county and admin users may import (EFORBIDDEN for other
// roles); the villages a row may name are the villages records within the
// caller's scopes, and the written ops are authored by the caller on
// device ImportDevice.
// Op ids are derived from the record id and the content the row gives it,
// so importing the same rows again applies nothing (Unchanged) and adds no
// history, and a row edited since is written as a new op that wins over
// the old values. Ops are stamped by the server clock after every version
// they replace. A register that cannot be read or lacks required columns
// fails with EINVALID; bad rows are reported in Problems and not written.
func (c *Core) ImportHouseholds(ctx context.Context, caller Caller, xlsx io.Reader) (*HouseholdImport, error) {
	if !auth.CanImport(caller.Role) {
		return nil, errForbidden("role %s may not import registers", caller.Role)
	}
	now := c.opts.Now()
	var known []string
	err := c.store.View(func(tx Tx) error {
		return tx.ForEachRecord(collection.Villages, func(r *syncengine.Record) error {
			if del, _ := r.Deleted(); !del && auth.InScope(caller.Scopes, r.Area) {
				known = append(known, r.Area)
			}
			return nil
		})
	})
	if err != nil {
		return nil, c.storeErr(ctx, "import: read villages", err)
	}
	if known == nil {
		known = []string{} // nil would accept every village
	}
	parsed, err := importer.Parse(xlsx, known)
	if err != nil {
		var mc *importer.MissingColumnsError
		if errors.As(err, &mc) {
			return nil, syncengine.Errorf(syncengine.EINVALID, "%s", mc.Error())
		}
		return nil, syncengine.Errorf(syncengine.EINVALID, "register is not a readable XLSX workbook: %v", err)
	}
	out := &HouseholdImport{Problems: []importer.RowError{}}
	for _, p := range parsed.Problems {
		if p.Code == importer.CodeUnknownVillage {
			// Out-of-scope villages look unknown: a scope must not reveal
			// which villages exist beyond it.
			p.Reason += "（或不在您的管辖范围内）"
		}
		out.Problems = append(out.Problems, p)
	}
	type rowOps struct {
		row int
		ops []*syncengine.Op
	}
	var rows []rowOps
	for _, h := range parsed.Households {
		ops, problems := c.householdOps(caller, h)
		if len(problems) > 0 {
			out.Problems = append(out.Problems, problems...)
			continue
		}
		rows = append(rows, rowOps{row: h.Row, ops: ops})
	}
	err = c.store.UpdateSolo(func(tx Tx) error {
		imported, unchanged := 0, 0
		var clashes []importer.RowError
		for _, r := range rows {
			changed, problem, err := c.applyImportRow(tx, r.ops, now)
			if err != nil {
				return err
			}
			switch {
			case problem != "":
				clashes = append(clashes, importer.RowError{Row: r.row, Column: importer.ColHouseholdID, Code: CodeRecordClash, Reason: problem})
			case changed:
				imported++
			default:
				unchanged++
			}
		}
		out.Imported, out.Unchanged = imported, unchanged
		out.Problems = append(out.Problems, clashes...)
		return c.record(tx, caller, audit.KindImport, commonArea(caller.Scopes), map[string]string{"what": collection.Households,
			"imported": strconv.Itoa(imported), "unchanged": strconv.Itoa(unchanged), "problems": strconv.Itoa(len(out.Problems))})
	})
	if err != nil {
		return nil, c.storeErr(ctx, "import: write", err)
	}
	sort.SliceStable(out.Problems, func(i, j int) bool { return out.Problems[i].Row < out.Problems[j].Row })
	return out, nil
}

// householdOps turns one good register row into its two ops (household,
// then head member), unstamped, or the row's problems.
func (c *Core) householdOps(caller Caller, h importer.Household) ([]*syncengine.Op, []importer.RowError) {
	var problems []importer.RowError
	bad := func(col, code, reason string) {
		problems = append(problems, importer.RowError{Row: h.Row, Column: col, Code: code, Reason: reason})
	}
	if !auth.InScope(caller.Scopes, h.Area) {
		bad(importer.ColVillage, CodeOutOfScope, "村代码不在您的管辖范围内: "+h.Area)
	}
	status := map[string]any{"value": string(h.Status)}
	if h.ExitYear > 0 {
		status["year"] = h.ExitYear
	}
	hh := map[string]any{"head_name": h.HeadName, "status": status}
	var flags []string
	if h.LowIncome {
		flags = append(flags, "dibao")
	}
	if h.FiveGuarantees {
		flags = append(flags, "wubao")
	}
	if flags != nil {
		hh["flags"] = flags
	}
	if h.Size > 0 {
		hh["member_count"] = h.Size
	}
	if h.Phone != "" {
		hh["phone"] = h.Phone
	}
	if h.Cause != "" {
		code, ok := causeCodes[h.Cause]
		if !ok {
			bad(importer.ColCause, CodeUnknownCause, fmt.Sprintf("未知致贫原因: %q", h.Cause))
		}
		hh["primary_cause"] = code
	}
	head := h.Members[0]
	member := map[string]any{"household_id": h.ID, "name": head.Name, "relation": "head"}
	if head.IDNumber != "" {
		member["id_number"] = head.IDNumber.Full()
	}
	if len(problems) > 0 {
		return nil, problems
	}
	var ops []*syncengine.Op
	for _, rec := range []struct {
		col, id string
		fields  map[string]any
	}{{collection.Households, h.ID, hh}, {collection.Members, head.ID, member}} {
		set := make(map[string]json.RawMessage, len(rec.fields))
		for k, v := range rec.fields {
			b, err := json.Marshal(v)
			if err != nil {
				bad("", CodeInvalidRecord, fmt.Sprintf("字段 %s 无法编码", k))
				return nil, problems
			}
			set[k] = b
		}
		if err := c.schemas.ValidateRecord(rec.col, set); err != nil {
			// Schema messages may quote values: mask the identity number.
			msg := strings.ReplaceAll(err.Error(), head.IDNumber.Full(), head.IDNumber.String())
			bad("", CodeInvalidRecord, "记录不符合数据规范: "+msg)
			return nil, problems
		}
		op := &syncengine.Op{ID: importOpID(rec.col, rec.id, h.Area, set), RecordID: rec.id, Collection: rec.col,
			Area: h.Area, Author: caller.User, Device: ImportDevice, Set: set, HLC: 1}
		if err := op.Validate(); err != nil { // ids the sync model refuses (too long, '/', spaces)
			bad(importer.ColHouseholdID, CodeInvalidRecord, "户编号不可用: "+syncengine.ErrorMessage(err))
			return nil, problems
		}
		op.HLC = 0 // stamped when applied
		ops = append(ops, op)
	}
	return ops, nil
}

// importOpID derives an op id from what the op writes, so the same row
// imported twice is the same op.
func importOpID(col, id, area string, set map[string]json.RawMessage) string {
	canon, _ := json.Marshal(set) // map keys are sorted; values are canonical from json.Marshal
	sum := sha256.Sum256(append([]byte("ruhu/import/v1\x00"+col+"\x00"+id+"\x00"+area+"\x00"), canon...))
	return "imp-" + hex.EncodeToString(sum[:16])
}

// applyImportRow applies one row's ops. changed reports whether any op
// was new; problem is set (and nothing written for the row) when a stored
// record cannot take the row.
func (c *Core) applyImportRow(tx Tx, ops []*syncengine.Op, now time.Time) (changed bool, problem string, err error) {
	// Check every new op before writing any, so a refused row writes
	// nothing. The ops of a row change different records, so applying one
	// does not change what the others find.
	type newOp struct {
		op  *syncengine.Op
		cur *syncengine.Record // nil when the record is not stored yet
	}
	var todo []newOp
	for _, op := range ops {
		seen, err := tx.OpApplied(op.ID)
		if err != nil {
			return false, "", err
		}
		if seen {
			continue
		}
		cur, err := tx.Record(op.Collection, op.RecordID)
		if err != nil {
			return false, "", err
		}
		if cur != nil {
			if del, _ := cur.Deleted(); del || cur.Area != op.Area {
				return false, fmt.Sprintf("编号 %s 已被另一村或已删除的记录使用", op.RecordID), nil
			}
		}
		todo = append(todo, newOp{op: op, cur: cur})
	}
	for _, n := range todo {
		op := n.op
		if n.cur != nil {
			// The row replaces what is stored: it saw every version, so
			// it is a sequential write, not a conflict, and must be
			// stamped after them to win.
			op.Base = map[string]string{}
			for name := range op.Set {
				if f, ok := n.cur.Fields[name]; ok {
					op.Base[name] = f.OpID
					c.clock.Observe(f.HLC)
				}
			}
		}
		op.HLC, op.ReceivedAt = c.clock.Now(), now.UTC()
		if _, err := syncengine.Apply(tx, op, c.mergePolicy(op.Collection), now); err != nil {
			return false, "", fmt.Errorf("apply import op %s: %w", op.ID, err)
		}
	}
	return len(todo) > 0, "", nil
}

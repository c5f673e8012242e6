package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/ruhu-dev/ruhu/server/audit"
)

// Export describes one download of data out of the system (a compliance
// report as JSON, CSV or XLSX, a ledger workbook, a backup) for its audit
// entry. Body is the file exactly as handed over: the entry keeps its
// sha256 and size, so a file found later can be matched to who took it.
type Export struct {
	// What names the export: "compliance_report", "ledger", "backup"…
	What string
	// Area is the area-code prefix the data covers ("" for everything).
	Area string
	// Format is the file's format (json, csv, xlsx, bolt).
	Format string
	// Period, List and File are recorded when set: the report period,
	// the CSV list and the file name offered.
	Period, List, File string
	// Via says where the download was made: "api", "console", "cli".
	Via  string
	Body []byte
	// SHA256 (hex) and Size describe a file too large to hold in Body (a
	// backup); they are used when Body is nil.
	SHA256 string
	Size   int64
}

// RecordExport appends the audit entry of an export by caller, in a
// transaction of its own. Callers hand the file over only once it
// returns nil, so no export goes unrecorded.
func (c *Core) RecordExport(ctx context.Context, caller Caller, e Export) error {
	if e.What == "" {
		return errInvalid("export: what was exported must be named")
	}
	sum := sha256.Sum256(e.Body)
	detail := map[string]string{"sha256": hex.EncodeToString(sum[:]), "bytes": strconv.Itoa(len(e.Body))}
	if e.Body == nil && e.SHA256 != "" {
		detail["sha256"], detail["bytes"] = audit.Clip(e.SHA256), strconv.FormatInt(e.Size, 10)
	}
	for k, v := range map[string]string{"what": e.What, "format": e.Format, "period": e.Period, "list": e.List, "file": e.File, "via": e.Via} {
		if v != "" {
			detail[k] = audit.Clip(v)
		}
	}
	err := c.store.UpdateSolo(func(tx Tx) error {
		return c.record(tx, caller, audit.KindExport, audit.Clip(e.Area), detail)
	})
	if err != nil {
		return c.storeErr(ctx, "record export", err)
	}
	return nil
}

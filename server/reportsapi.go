package server

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/rules"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/reports"
)

// MIMEXLSX is the content type of Excel workbooks, for report downloads and
// register uploads.
const MIMEXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// handleComplianceReport serves GET /v1/reports/compliance: the roll-up of
// the field rules under an area for a period, as JSON, one CSV list, or an
// XLSX workbook, each download recorded in the audit log first
// (core.RecordExport). EINVALID names the bad parameter; EFORBIDDEN when
// the caller's role reads no reports or their scope does not cover the area.
func (s *Server) handleComplianceReport(c *fiber.Ctx) error {
	cl := claimsOf(c)
	if !auth.CanReadReports(cl.Role) {
		return errForbidden("role %s may not read reports", cl.Role)
	}
	area := c.Query("area")
	if !validReportArea(area) {
		return errInvalid("area: must be an area code of 2 to 12 digits, got %q", area)
	}
	if !auth.ScopeCovers(cl.Scopes, area) {
		return errForbidden("area %s is not within your scope", area)
	}
	period, err := rules.ParsePeriod(c.Query("period"))
	if err != nil {
		return errInvalid("period: %v", err)
	}
	format := c.Query("format", "json")
	list := c.Query("list", "summary")
	switch format {
	case "json", "xlsx":
	case "csv":
		if !slices.Contains(reports.ListNames(), list) {
			return errInvalid("list: %q is not one of %s", list, strings.Join(reports.ListNames(), ", "))
		}
	default:
		return errInvalid("format: must be json, csv or xlsx, got %q", format)
	}
	if s.cfg.Policies == nil {
		return errors.New("report: the server has no policy set")
	}
	r, err := ComplianceReportWith(s.store, s.cfg.Policies, s.cfg.Evidence, area, period, s.cfg.Now())
	if err != nil {
		return storeErr("report", err)
	}
	if err := s.addComplianceExtra(c.UserContext(), callerOf(c), r); err != nil {
		return storeErr("report", err)
	}
	var buf bytes.Buffer
	export := core.Export{What: "compliance_report", Area: area, Format: format, Period: period.Label, Via: "api"}
	switch format {
	case "json":
		if err := reports.WriteJSON(&buf, r); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	case "csv":
		if err := reports.WriteCSV(&buf, r, list); err != nil {
			return err
		}
		export.List, export.File = list, ReportFileName(area, period, list, "csv")
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, attachment(export.File))
	case "xlsx":
		if err := reports.WriteXLSX(&buf, r); err != nil {
			return err
		}
		export.File = ReportFileName(area, period, "", "xlsx")
		c.Set(fiber.HeaderContentType, MIMEXLSX)
		c.Set(fiber.HeaderContentDisposition, attachment(export.File))
	}
	// The lists name households: no report leaves without its audit entry.
	export.Body = buf.Bytes()
	if err := s.core.RecordExport(c.UserContext(), callerOf(c), export); err != nil {
		c.Response().Header.Del(fiber.HeaderContentDisposition)
		return err
	}
	s.log.Info("report served", "user", cl.Subject, "area", area, "period", period.Label, "format", format, "findings", r.Summary.Total)
	return c.Send(buf.Bytes())
}

// ReportFileName names a downloaded report: 合规报告-<area>-<period>[-<list>].<ext>.
func ReportFileName(area string, period rules.Period, list, ext string) string {
	name := "合规报告-" + area + "-" + period.Label
	if list != "" {
		name += "-" + list
	}
	return name + "." + ext
}

// attachment is a Content-Disposition for a download whose name may be
// Chinese: an ASCII fallback plus the UTF-8 name (RFC 6266).
func attachment(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, name)
	ascii = strings.TrimLeft(ascii, "-")
	return fmt.Sprintf(`attachment; filename="compliance-%s"; filename*=UTF-8''%s`, ascii, url.PathEscape(name))
}

package server

import (
	"bytes"
	"mime"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/server/core"
)

// Import problem codes added to the importer's (importer.Code*); the
// import itself is core.ImportHouseholds.
const (
	CodeUnknownCause  = core.CodeUnknownCause
	CodeOutOfScope    = core.CodeOutOfScope
	CodeInvalidRecord = core.CodeInvalidRecord
	CodeRecordClash   = core.CodeRecordClash
)

// ImportDevice is the device named on the ops an import writes.
const ImportDevice = core.ImportDevice

// HouseholdImport is the outcome of importing a household register.
type HouseholdImport = core.HouseholdImport

// handleImportHouseholds serves POST /v1/import/households: the body is a
// register workbook. Township, county and admin users may import, each
// within their scope.
func (s *Server) handleImportHouseholds(c *fiber.Ctx) error {
	ct, _, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if ct != MIMEXLSX && ct != "application/octet-stream" {
		return errInvalid("Content-Type: the body must be an XLSX workbook (%s)", MIMEXLSX)
	}
	body := c.Body()
	if len(body) == 0 {
		return errInvalid("body: the register workbook is empty")
	}
	cl := callerOf(c)
	res, err := s.core.ImportHouseholds(c.UserContext(), cl, bytes.NewReader(body))
	if err != nil {
		return err
	}
	s.log.Info("households imported", "user", cl.User, "imported", res.Imported, "unchanged", res.Unchanged, "problems", len(res.Problems))
	return c.JSON(res)
}

package server

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"
)

// editRecordRequest is the body of POST /v1/records/{collection}/{id}.
type editRecordRequest struct {
	// Area is the 12-digit area code of a new record; a change keeps the
	// record's own area.
	Area string `json:"area"`
	// Set holds the fields to set.
	Set map[string]json.RawMessage `json:"set"`
}

// handleEditRecord creates or changes one record for a signed-in user
// without a tablet (township and county staff reviewing evidence and
// keeping the rectification ledger, from the console or a script): the
// same admission as a pushed op, through core.Edit. A refused op answers
// with its code (EFORBIDDEN, EINVALID, ECONFLICT) and a message that
// starts with the procedure's stable code (review_*, ledger_*, exit_*).
func (s *Server) handleEditRecord(c *fiber.Ctx) error {
	var req editRecordRequest
	if err := s.decodeJSON(c, &req); err != nil {
		return err
	}
	rec, err := s.core.Edit(c.UserContext(), callerOf(c), c.Params("collection"), c.Params("id"), req.Area, req.Set)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"record": viewRecord(rec)})
}

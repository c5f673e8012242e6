package server

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
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
	col, err := decodedParam(c, "collection")
	if err != nil {
		return err
	}
	id, err := decodedParam(c, "id")
	if err != nil {
		return err
	}
	rec, err := s.core.Edit(c.UserContext(), callerOf(c), col, id, req.Area, req.Set)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"record": viewRecord(rec)})
}

// housingEvidenceComplete is the core's judge of a housing case's
// evidence for the exit standards (core.Options.HousingEvidence): the
// verdict of GET /v1/housing_cases/{id}/evidence. It reads in a read
// transaction of its own, opened and closed while the push's write
// transaction waits in the same goroutine (bbolt remaps only while the
// writer allocates, never during this call), so it sees the store as
// committed before the batch.
func (s *Server) housingEvidenceComplete(_ core.Tx, rec *syncengine.Record) (bool, error) {
	v, err := s.housingEvidence(rec)
	return v.Complete, err
}

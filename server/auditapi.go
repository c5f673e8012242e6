package server

import (
	"encoding/hex"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// pushEnvelope reads a push's signature header against the body as sent
// (before content encoding): the digest the device signed and the
// signature, or a nil signature when the tablet sent the header not at
// all. A header that is present but malformed is refused
// (syncengine.ErrBatchSignature), never ignored.
func pushEnvelope(c *fiber.Ctx, body []byte) (*core.BatchEnvelope, error) {
	env := &core.BatchEnvelope{Digest: syncengine.BatchDigest(body)}
	h := c.Request().Header.Peek(syncengine.BatchSignatureHeader)
	if h == nil {
		return env, nil
	}
	sig, err := syncengine.ParseBatchSignature(string(h))
	if err != nil {
		return nil, err
	}
	env.Signature = sig
	return env, nil
}

// auditEntryJSON is an audit entry as the API shows it: hashes in hex.
type auditEntryJSON struct {
	*audit.Entry
	Prev string `json:"prev"`
	Hash string `json:"hash"`
}

// handleAudit answers GET /v1/audit?area=&before=&limit=: the audit
// entries concerning an area, newest first, for auditors, county staff and
// admins whose scopes cover it (core.AuditTrail). next_before pages on.
func (s *Server) handleAudit(c *fiber.Ctx) error {
	var before uint64
	if v := c.Query("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return errInvalid("before must be an entry sequence number")
		}
		before = n
	}
	limit := 0
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errInvalid("limit must be 1 to %d", core.MaxAuditPage)
		}
		limit = n
	}
	entries, err := s.core.AuditTrail(c.UserContext(), callerOf(c), c.Query("area"), before, limit)
	if err != nil {
		return err
	}
	out := make([]auditEntryJSON, len(entries))
	for i, e := range entries {
		out[i] = auditEntryJSON{Entry: e, Prev: hex.EncodeToString(e.Prev), Hash: hex.EncodeToString(e.Hash)}
	}
	resp := fiber.Map{"entries": out}
	if n := len(entries); n > 0 && entries[n-1].Seq > 1 {
		resp["next_before"] = entries[n-1].Seq
	}
	return c.JSON(resp)
}

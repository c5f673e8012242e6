package server

import (
	"github.com/gofiber/fiber/v2"
)

// keyShareResponse is the answer of POST /v1/device/key-share.
type keyShareResponse struct {
	Share          []byte `json:"share"` // base64
	LeaseUntil     string `json:"lease_until"`
	LeaseSeconds   int64  `json:"lease_seconds"`
	MaxPINFailures int    `json:"max_pin_failures"`
}

// handleKeyShare serves POST /v1/device/key-share: the calling device's
// share of the key to its personal fields with a fresh lease
// (core.KeyShare). A revoked device is refused (EREVOKED) before it gets
// here, and again inside the core. POST and no-store keep the share out
// of every cache.
func (s *Server) handleKeyShare(c *fiber.Ctx) error {
	ks, err := s.core.KeyShare(c.UserContext(), callerOf(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(keyShareResponse{Share: ks.Share, LeaseUntil: ks.LeaseUntil.Format("2006-01-02T15:04:05.000Z07:00"),
		LeaseSeconds: int64(ks.Lease.Seconds()), MaxPINFailures: ks.MaxPINFailures})
}

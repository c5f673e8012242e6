package server

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/server/core"
)

// UserUpdate is a change to an existing account, from the admin API or
// the CLI: a field left out is unchanged.
type UserUpdate = core.UserUpdate

// handleUpdateUser is PATCH /v1/admin/users/:username: an admin changes
// another account's role, scopes, display name or disabled flag
// (core.UpdateUser, audited).
func (s *Server) handleUpdateUser(c *fiber.Ctx) error {
	username, err := decodedParam(c, "username")
	if err != nil {
		return err
	}
	var up UserUpdate
	if err := s.decodeJSON(c, &up); err != nil {
		return err
	}
	u, err := s.core.UpdateUser(c.UserContext(), callerOf(c), username, up)
	if err != nil {
		return err
	}
	return c.JSON(viewUser(u))
}

// UpdateUser changes an account in a stopped server's store (or a shared
// PostgreSQL one), as the operator (core.UpdateUser: ENOTFOUND for no such
// user, EINVALID for bad input), and returns the account as stored.
func UpdateUser(store Store, username string, up UserUpdate, now time.Time) (*core.User, error) {
	return operatorCore(store, now).UpdateUser(context.Background(), core.Operator(), username, up)
}

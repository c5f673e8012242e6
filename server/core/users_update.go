package core

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// UserUpdate is a change to an existing account, from the admin API, the
// web console or the CLI. A nil field is left as it is.
type UserUpdate struct {
	Role        *string  `json:"role,omitempty"`
	Scopes      []string `json:"scopes,omitempty"`
	Disabled    *bool    `json:"disabled,omitempty"`
	DisplayName *string  `json:"display_name,omitempty"`
}

// UpdateUser changes an account's role, scopes, display name or disabled
// flag (admins only) and records the change, with the role and scopes
// before and after, in the audit log in the same transaction. A disabled
// account can no longer log in, refresh a device token or use a console
// session, and its access tokens stop working. An update that changes
// nothing stores and records nothing. Errors: EFORBIDDEN for a caller who
// is not an admin, ENOTFOUND for no such user, EINVALID for an empty
// update, a bad role or scopes, a display name over 100 bytes, or an admin
// disabling or demoting themself.
func (c *Core) UpdateUser(ctx context.Context, caller Caller, username string, up UserUpdate) (*User, error) {
	if err := requireAdmin(caller); err != nil {
		return nil, err
	}
	if up.Role == nil && up.Scopes == nil && up.Disabled == nil && up.DisplayName == nil {
		return nil, errInvalid("nothing to change: give a role, scopes, disabled or display_name")
	}
	if up.Role != nil && !auth.ValidRole(*up.Role) {
		return nil, errInvalid("role %q is not one of %s", *up.Role, strings.Join(auth.Roles, ", "))
	}
	if up.DisplayName != nil && (len(*up.DisplayName) > 100 || !utf8.ValidString(*up.DisplayName)) {
		return nil, errInvalid("display_name must be valid UTF-8 of at most 100 bytes")
	}
	if username == caller.User {
		if up.Disabled != nil && *up.Disabled {
			return nil, errInvalid("an admin cannot disable their own account: ask another admin")
		}
		if up.Role != nil && *up.Role != auth.RoleAdmin {
			return nil, errInvalid("an admin cannot take the admin role from their own account: ask another admin")
		}
	}
	var out *User
	err := c.store.UpdateSolo(func(tx Tx) error {
		u, err := tx.User(username)
		if err != nil {
			return err
		}
		if u == nil {
			return syncengine.Errorf(syncengine.ENOTFOUND, "no user %s", username)
		}
		next := *u
		next.Scopes = slices.Clone(u.Scopes)
		if up.Role != nil {
			next.Role = *up.Role
		}
		if up.Scopes != nil {
			next.Scopes = slices.Clone(up.Scopes)
		}
		if up.Disabled != nil {
			next.Disabled = *up.Disabled
		}
		if up.DisplayName != nil {
			next.DisplayName = *up.DisplayName
		}
		if err := auth.ValidateScopes(next.Role, next.Scopes); err != nil {
			return errInvalid("%v", err)
		}
		out = &next
		detail := userChange(u, &next)
		if detail == nil {
			return nil // nothing changes, nothing to record
		}
		if err := tx.PutUser(&next); err != nil {
			return err
		}
		return c.record(tx, caller, audit.KindUser, commonArea(append(slices.Clone(u.Scopes), next.Scopes...)), detail)
	})
	if err != nil {
		return nil, c.storeErr(ctx, "update user", err)
	}
	return out, nil
}

// userChange is the audit detail of an account going from before to
// after, nil when nothing changed. Role and scopes are always given before
// and after; "status" is disable or enable when the flag changed.
func userChange(before, after *User) map[string]string {
	changed := before.Role != after.Role || !slices.Equal(before.Scopes, after.Scopes) ||
		before.Disabled != after.Disabled || before.DisplayName != after.DisplayName
	if !changed {
		return nil
	}
	d := map[string]string{"action": "update", "user": after.Username,
		"role_before": before.Role, "role": after.Role,
		"scopes_before": clipDetail(strings.Join(before.Scopes, ",")), "scopes": clipDetail(strings.Join(after.Scopes, ","))}
	if before.Disabled != after.Disabled {
		d["status"] = "enable"
		if after.Disabled {
			d["status"] = "disable"
		}
	}
	if before.DisplayName != after.DisplayName {
		d["display_name"] = clipDetail(after.DisplayName)
	}
	return d
}

// clipDetail cuts s to an audit detail value's limit at a character
// boundary, ending it with the count of bytes left out.
func clipDetail(s string) string {
	if len(s) <= audit.MaxDetailValue {
		return s
	}
	cut := audit.MaxDetailValue - 32
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(+" + strconv.Itoa(len(s)-cut) + " bytes)"
}

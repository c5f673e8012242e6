package auth

import (
	"fmt"
	"strings"

	"github.com/ruhu-dev/ruhu/collection"
)

// Roles.
const (
	RoleOfficer    = "officer"     // 帮扶干部: visits assigned households
	RoleTeamMember = "team_member" // 驻村工作队员: residency check-ins
	RoleTownship   = "township"    // 乡镇: reviews, assignments, approvals
	RoleCounty     = "county"      // 县扶贫办: roll-ups, conflict decisions
	RoleAuditor    = "auditor"     // read-only inspector
	RoleAdmin      = "admin"       // accounts and devices
)

// Roles lists every role.
var Roles = []string{RoleOfficer, RoleTeamMember, RoleTownship, RoleCounty, RoleAuditor, RoleAdmin}

// ValidRole reports whether r is a role.
func ValidRole(r string) bool {
	for _, x := range Roles {
		if x == r {
			return true
		}
	}
	return false
}

// writable lists the collections each role may write. Reads are allowed to
// every role within its scopes.
var writable = map[string][]string{
	RoleOfficer:    {collection.Households, collection.Members, collection.Visits, collection.Photos, collection.Signatures, collection.HousingCases},
	RoleTeamMember: {collection.Checkins, collection.Signatures, collection.Photos},
	RoleTownship:   {collection.Households, collection.Members, collection.Assignments, collection.Villages, collection.Teams, collection.DutyDays, collection.HousingCases, collection.Signatures, collection.Photos, collection.TeamDuties, collection.DoctorContracts, collection.DoctorVisits},
	RoleCounty:     {collection.Households, collection.Members, collection.Assignments, collection.Villages, collection.Teams, collection.DutyDays, collection.HousingCases, collection.TeamDuties, collection.DoctorContracts, collection.DoctorVisits},
	RoleAuditor:    nil,
}

// CanWrite reports whether role may write to collection at all (area scope
// and record rules are checked separately).
func CanWrite(role, collection string) bool {
	if role == RoleAdmin {
		return true
	}
	for _, c := range writable[role] {
		if c == collection {
			return true
		}
	}
	return false
}

// CanResolveConflicts reports whether role decides conflicts.
func CanResolveConflicts(role string) bool {
	return role == RoleTownship || role == RoleCounty || role == RoleAdmin
}

// CanReadReports reports whether role reads the roll-ups of its scope:
// compliance reports, doubtful photo findings, exit and ledger procedures.
// These are the supervising roles; officers and team members see their
// own work on their tablets, not their colleagues' shortfalls.
func CanReadReports(role string) bool {
	switch role {
	case RoleTownship, RoleCounty, RoleAuditor, RoleAdmin:
		return true
	}
	return false
}

// CanReadAudit reports whether role reads and verifies the audit trail of
// its scope: auditors, county staff and admins.
func CanReadAudit(role string) bool {
	return role == RoleAuditor || role == RoleCounty || role == RoleAdmin
}

// CanImport reports whether role imports household registers into the
// villages of its scope.
func CanImport(role string) bool {
	return role == RoleTownship || role == RoleCounty || role == RoleAdmin
}

// CanReview reports whether role reviews evidence it does not record:
// review states of visits, check-ins and photos.
func CanReview(role string) bool {
	return role == RoleTownship || role == RoleCounty
}

// InScope reports whether area falls under one of the scope prefixes.
func InScope(scopes []string, area string) bool {
	for _, p := range scopes {
		if strings.HasPrefix(area, p) {
			return true
		}
	}
	return false
}

// ScopeCovers reports whether the scopes cover the whole of prefix (a
// query for a township needs a scope that is the township or above).
func ScopeCovers(scopes []string, prefix string) bool {
	for _, p := range scopes {
		if strings.HasPrefix(prefix, p) {
			return true
		}
	}
	return false
}

// ValidateScopes checks scope prefixes: 2 to 12 digits, or "" only for
// admins (everything).
func ValidateScopes(role string, scopes []string) error {
	if len(scopes) == 0 {
		return fmt.Errorf("at least one area scope is required")
	}
	for _, s := range scopes {
		if s == "" && role == RoleAdmin {
			continue
		}
		if len(s) < 2 || len(s) > 12 {
			return fmt.Errorf("scope %q must be 2 to 12 digits", s)
		}
		for _, r := range s {
			if r < '0' || r > '9' {
				return fmt.Errorf("scope %q must be digits", s)
			}
		}
	}
	return nil
}

package auth_test

import (
	"testing"

	"github.com/ruhu-dev/ruhu/server/auth"
)

// TestRoleRules: who reads reports, reads the audit trail, imports
// registers, reviews evidence and resolves conflicts, role by role (an
// unknown role may do none of it).
func TestRoleRules(t *testing.T) {
	type can struct{ reports, audit, imports, review, resolve bool }
	for role, want := range map[string]can{
		auth.RoleOfficer:    {},
		auth.RoleTeamMember: {},
		auth.RoleTownship:   {reports: true, imports: true, review: true, resolve: true},
		auth.RoleCounty:     {reports: true, audit: true, imports: true, review: true, resolve: true},
		auth.RoleAuditor:    {reports: true, audit: true},
		auth.RoleAdmin:      {reports: true, audit: true, imports: true, resolve: true},
		"stranger":          {},
	} {
		got := can{auth.CanReadReports(role), auth.CanReadAudit(role), auth.CanImport(role), auth.CanReview(role), auth.CanResolveConflicts(role)}
		if got != want {
			t.Errorf("%s: may %+v, want %+v", role, got, want)
		}
	}
}

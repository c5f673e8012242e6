package core

import (
	"context"
	"errors"

	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/auth"
)

// AuditChain is the state of the whole audit chain as one check found it.
type AuditChain struct {
	// Kept is false when the store keeps no audit log (nothing to check).
	Kept bool
	// Head is the last entry that verified.
	Head audit.Head
	// Broken names the first bad entry (changed, missing or out of
	// place); nil when every entry verified.
	Broken *audit.BrokenError
}

// VerifyAuditChain re-checks every entry of the audit chain, as `ruhu audit
// verify` does, for those who may read the audit trail: auditors, county
// staff and admins (EFORBIDDEN for other roles). A broken chain is an
// answer, not an error.
func (c *Core) VerifyAuditChain(ctx context.Context, caller Caller) (*AuditChain, error) {
	if !auth.CanReadAudit(caller.Role) {
		return nil, errForbidden("role %s may not check the audit chain", caller.Role)
	}
	out := &AuditChain{}
	err := c.store.View(func(tx Tx) error {
		at, ok := tx.(AuditTx)
		if !ok {
			return nil
		}
		out.Kept = true
		head, err := at.VerifyAudit(nil)
		out.Head = head
		var broken *audit.BrokenError
		if errors.As(err, &broken) {
			out.Broken = broken
			return nil
		}
		return err
	})
	if err != nil {
		return nil, c.storeErr(ctx, "verify audit chain", err)
	}
	return out, nil
}

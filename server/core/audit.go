package core

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/ruhu-dev/ruhu/server/audit"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// AuditTx is the part of a Tx that keeps the hash-chained audit log.
// server/boltstore and server/pgstore implement it (the conformance suite
// checks both); a store without it records no audit entries, and
// AuditTrail answers nothing from it.
type AuditTx interface {
	// AppendAudit links e after the chain's head and stores it in this
	// transaction (it commits or rolls back with the change it records).
	AppendAudit(e *audit.Entry) error
	// AuditEntries calls fn with the entries below sequence before (0: all),
	// newest first, until fn returns false.
	AuditEntries(before uint64, fn func(*audit.Entry) bool) error
	// VerifyAudit re-checks the whole chain entry by entry
	// (audit.Verifier) and returns its head; a broken chain answers an
	// *audit.BrokenError naming the first bad entry. A non-nil anchor is
	// checked too (audit.CheckAnchor).
	VerifyAudit(anchor *audit.Head) (audit.Head, error)
}

// BatchEnvelope is what came with a pushed batch besides its ops: the
// digest of the body as sent (syncengine.BatchDigest) and the device's
// signature over it (nil when the tablet sent none). The caller computes
// Digest from the very bytes it decoded the batch from (the server's push
// handler reads the body once for both): the core checks that the device
// signed that digest, not that the digest describes the ops.
type BatchEnvelope struct {
	Digest    [sha256.Size]byte
	Signature []byte
}

// record appends an audit entry stamped now, by caller, when the store
// keeps an audit log.
func (c *Core) record(tx Tx, caller Caller, kind audit.Kind, area string, detail map[string]string) error {
	at, ok := tx.(AuditTx)
	if !ok {
		return nil
	}
	return at.AppendAudit(&audit.Entry{Time: c.opts.Now(), Kind: kind, Actor: audit.Clip(caller.User),
		Device: audit.Clip(caller.Device), Area: audit.Clip(area), Detail: detail})
}

// commonArea is the longest area-code prefix shared by areas: the area an
// event touching all of them concerns.
func commonArea(areas []string) string {
	if len(areas) == 0 {
		return ""
	}
	p := areas[0]
	for _, a := range areas[1:] {
		n := 0
		for n < len(p) && n < len(a) && p[n] == a[n] {
			n++
		}
		p = p[:n]
	}
	return p
}

// verifyBatch checks a push's envelope against the caller's enrolled
// device key. A batch without a signature passes unless
// Options.RequireSignedPush (tablets older than batch signing send none;
// the audit entry then says "signature": "none"). Errors:
// syncengine.ErrBatchSignature (EFORBIDDEN) for a signature that does not
// verify or a required one that is missing.
func (c *Core) verifyBatch(tx Tx, caller Caller, env *BatchEnvelope) error {
	if env == nil || env.Signature == nil {
		if c.opts.RequireSignedPush {
			return syncengine.ErrBatchSignature
		}
		return nil
	}
	d, err := tx.Device(caller.Device)
	if err != nil {
		return err
	}
	if d == nil {
		return syncengine.ErrBatchSignature
	}
	return syncengine.VerifyBatch(ed25519.PublicKey(d.PublicKey), caller.Device, env.Digest, env.Signature)
}

// pushAudit is the audit detail of an accepted batch.
func pushAudit(env *BatchEnvelope, batch []syncengine.WireOp, applied, acked, rejected int) map[string]string {
	var digest [sha256.Size]byte
	sig := "none"
	if env != nil {
		digest = env.Digest
		if env.Signature != nil {
			sig = base64.StdEncoding.EncodeToString(env.Signature)
		}
	} else {
		// An in-process caller: the digest of the batch as JSON.
		raw, _ := json.Marshal(syncengine.PushRequest{Ops: batch})
		digest = sha256.Sum256(raw)
	}
	return map[string]string{"digest": hex.EncodeToString(digest[:]), "signature": sig,
		"ops": strconv.Itoa(len(batch)), "applied": strconv.Itoa(applied),
		"acked": strconv.Itoa(acked), "rejected": strconv.Itoa(rejected)}
}

// MaxAuditPage is the most entries AuditTrail returns at once.
const MaxAuditPage = 1000

// AuditTrail returns the audit entries concerning area (those whose area
// lies within it), newest first, from the sequence below before (0: the
// newest), at most limit (0: 100; at most MaxAuditPage). Auditors, county
// staff and admins may read it for an area their scopes cover. Errors:
// EFORBIDDEN for another role or an area beyond the caller's scopes,
// EINVALID for a bad area or limit.
func (c *Core) AuditTrail(ctx context.Context, caller Caller, area string, before uint64, limit int) ([]*audit.Entry, error) {
	if !auth.CanReadAudit(caller.Role) {
		return nil, errForbidden("role %s may not read the audit trail", caller.Role)
	}
	if len(area) > 12 || strings.Trim(area, "0123456789") != "" || (area == "" && caller.Role != auth.RoleAdmin) {
		return nil, errInvalid("area: must be an area code of 2 to 12 digits, got %q", area)
	}
	if !auth.ScopeCovers(caller.Scopes, area) {
		return nil, errForbidden("area %s is not within your scope", area)
	}
	if limit < 0 || limit > MaxAuditPage {
		return nil, errInvalid("limit must be 1 to %d", MaxAuditPage)
	}
	if limit == 0 {
		limit = 100
	}
	out := []*audit.Entry{}
	err := c.store.View(func(tx Tx) error {
		at, ok := tx.(AuditTx)
		if !ok {
			return nil
		}
		return at.AuditEntries(before, func(e *audit.Entry) bool {
			if strings.HasPrefix(e.Area, area) {
				out = append(out, e)
			}
			return len(out) < limit
		})
	})
	if err != nil {
		return nil, c.storeErr(ctx, "read audit trail", err)
	}
	return out, nil
}

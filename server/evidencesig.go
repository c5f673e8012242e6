package server

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/assets/signature"
	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/server/auth"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// SignatureStatusTitle is the zh-CN label field staff see for a
// signature status (signature.StatusValid, StatusStale, StatusInvalid).
func SignatureStatusTitle(status string) string {
	switch status {
	case signature.StatusValid:
		return "有效"
	case signature.StatusStale:
		return "已失效：签字后所签记录被修改"
	case signature.StatusInvalid:
		return "无效：设备签名不符"
	}
	return status
}

// signatureStatus judges a signatures record against the signed record's
// current content (without its collection's annotation fields) and the
// public key of the enrolled device that signed: the device named in
// device_id, else the device of the op that created the record. An
// unknown device is StatusInvalid. A deleted signed record counts as
// gone (StatusStale when the device signature holds).
func signatureStatus(tx Tx, sig *syncengine.Record, annotations func(collection string) []string) (string, error) {
	values := sig.Values()
	deviceID := jsonString(values[signature.FieldDeviceID])
	if deviceID == "" {
		deviceID = sig.Fields[signature.FieldSignedContentSHA256].Device
	}
	dev, err := tx.Device(deviceID)
	if err != nil {
		return "", fmt.Errorf("device %s of signature %s: %w", deviceID, sig.ID, err)
	}
	if dev == nil || len(dev.PublicKey) != ed25519.PublicKeySize {
		return signature.StatusInvalid, nil
	}
	col, id := jsonString(values["signed_collection"]), jsonString(values["signed_record_id"])
	var content map[string]json.RawMessage
	if col != "" && id != "" {
		signed, err := tx.Record(col, id)
		if err != nil {
			return "", fmt.Errorf("record %s/%s signed by %s: %w", col, id, sig.ID, err)
		}
		if signed != nil {
			if deleted, _ := signed.Deleted(); !deleted {
				content = signature.Content(signed.Values(), annotations(col))
			}
		}
	}
	return signature.Status(values, content, ed25519.PublicKey(dev.PublicKey)), nil
}

// signatureView is one signature as GET /v1/signatures lists it.
type signatureView struct {
	ID          string `json:"id"`
	Area        string `json:"area"`
	SignerName  string `json:"signer_name"`
	SignerRole  string `json:"signer_role"`
	Purpose     string `json:"purpose,omitempty"`
	SignedAt    string `json:"signed_at"`
	DeviceID    string `json:"device_id,omitempty"`
	Status      string `json:"signature_status"`
	StatusTitle string `json:"signature_status_title"`
}

// handleListSignatures serves GET /v1/signatures?record=<collection>/<id>:
// the signatures of a record with their status. The record must be in the
// caller's scope (ENOTFOUND otherwise, as for reading the record);
// EINVALID for a malformed parameter.
func (s *Server) handleListSignatures(c *fiber.Ctx) error {
	cl := claimsOf(c)
	col, id, ok := strings.Cut(c.Query("record"), "/")
	if !ok || col == "" || id == "" || !s.schemas.Known(col) {
		return errInvalid("record: want <collection>/<id> of a known collection, got %q", c.Query("record"))
	}
	out := []signatureView{}
	err := view(s.store, func(tx Tx) error {
		signed, err := tx.Record(col, id)
		if err != nil {
			return err
		}
		if signed == nil || !auth.InScope(cl.Scopes, signed.Area) {
			return syncengine.Errorf(syncengine.ENOTFOUND, "no record %s/%s", col, id)
		}
		// A tablet files a signature under the signed record's area.
		var ids []string
		err = tx.ScanRecordsIn(collection.Signatures, signed.Area, []string{"signed_collection", "signed_record_id"},
			func(sigID, _ string, f []core.FieldView) error {
				if jsonString(f[0].Value) == col && jsonString(f[1].Value) == id {
					ids = append(ids, sigID)
				}
				return nil
			})
		if err != nil {
			return err
		}
		for _, sigID := range ids {
			rec, err := tx.Record(collection.Signatures, sigID)
			if err != nil || rec == nil {
				return err
			}
			st, err := signatureStatus(tx, rec, s.annotations)
			if err != nil {
				return err
			}
			v := rec.Values()
			out = append(out, signatureView{ID: rec.ID, Area: rec.Area, SignerName: jsonString(v["signer_name"]),
				SignerRole: jsonString(v["signer_role"]), Purpose: jsonString(v["purpose"]), SignedAt: jsonString(v["signed_at"]),
				DeviceID: jsonString(v[signature.FieldDeviceID]), Status: st, StatusTitle: SignatureStatusTitle(st)})
		}
		return nil
	})
	if err != nil {
		return storeErr("list signatures", err)
	}
	// Oldest first; signed_at is RFC 3339 with any offset, so compare times.
	sort.Slice(out, func(i, j int) bool {
		ti, _ := time.Parse(time.RFC3339, out[i].SignedAt)
		tj, _ := time.Parse(time.RFC3339, out[j].SignedAt)
		return ti.Before(tj) || ti.Equal(tj) && out[i].ID < out[j].ID
	})
	return c.JSON(fiber.Map{"record": col + "/" + id, "signatures": out})
}

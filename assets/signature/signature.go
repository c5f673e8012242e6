// Package signature binds a signer to the content of a record (谁签字、谁负责).
//
// A signatures record names the signer, the role and the signed record, and
// carries signed_content_sha256: the hex sha256 of the RFC 8785 canonical
// JSON of the signed record's content at the moment of signing
// (ContentSHA256). The enrolled device then signs the signatures record
// itself — every field except device_signature, canonicalized (Payload) —
// with its ed25519 key, so neither the signer, the role, the strokes nor the
// content hash can be changed afterwards without the signature showing as
// invalid. If the signed record changes after signing, its content no longer
// hashes to signed_content_sha256 and the signature shows as stale.
//
// What the content of a record is: its field values as one JSON object,
// without the deletion marker and without the annotation fields of an
// append-only collection (review_note, review_status...), because a
// reviewer's note is not what the household signed and must not break the
// signature. Content computes that object; tablet and server must both use
// it so their hashes agree.
//
// The package is pure: standard library only, no I/O.
package signature

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Field names of the signatures collection that this package reads.
const (
	FieldDeviceSignature     = "device_signature"
	FieldDeviceID            = "device_id"
	FieldSignedContentSHA256 = "signed_content_sha256"
)

// Results of Status.
const (
	// StatusValid: the device signature verifies and the signed record
	// still has the content that was signed.
	StatusValid = "valid"
	// StatusStale: the device signature verifies, but the signed record
	// changed after signing (or no longer exists).
	StatusStale = "stale"
	// StatusInvalid: the device signature is missing, malformed, made by
	// another key, or the signature record was altered after signing.
	StatusInvalid = "invalid"
)

// ErrBadKey means a public or private key has the wrong length.
var ErrBadKey = errors.New("ed25519 key of the wrong length")

// Content returns the part of a record that a signature covers: its values
// without the annotation fields named (the merge policy's Annotations of
// the collection). values is not modified.
func Content(values map[string]json.RawMessage, annotations []string) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(values))
	for k, v := range values {
		if !slices.Contains(annotations, k) {
			out[k] = v
		}
	}
	return out
}

// canonicalObject canonicalizes fields as one JSON object.
func canonicalObject(fields map[string]json.RawMessage) ([]byte, error) {
	obj, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotCanonicalizable, err)
	}
	out, err := Canonicalize(obj)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ContentSHA256 is the hex sha256 of the canonical JSON of a record's
// content (see Content): the value a signature's signed_content_sha256
// holds. Field order and number spelling do not change it.
//
// Errors: ErrNotCanonicalizable when a value is not I-JSON.
func ContentSHA256(fields map[string]json.RawMessage) (string, error) {
	canon, err := canonicalObject(fields)
	if err != nil {
		return "", fmt.Errorf("content hash: %w", err)
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// Payload is what the device signs: the canonical JSON of the signature
// record's fields without device_signature.
//
// Errors: ErrNotCanonicalizable.
func Payload(sigFields map[string]json.RawMessage) ([]byte, error) {
	rest := make(map[string]json.RawMessage, len(sigFields))
	for k, v := range sigFields {
		if k != FieldDeviceSignature {
			rest[k] = v
		}
	}
	out, err := canonicalObject(rest)
	if err != nil {
		return nil, fmt.Errorf("signature payload: %w", err)
	}
	return out, nil
}

// Sign returns the standard base64 ed25519 signature of Payload(sigFields),
// the value of device_signature.
//
// Errors: ErrBadKey, ErrNotCanonicalizable.
func Sign(priv ed25519.PrivateKey, sigFields map[string]json.RawMessage) (string, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("sign: private key: %w", ErrBadKey)
	}
	payload, err := Payload(sigFields)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ed25519.Sign(priv, payload)), nil
}

// Verify reports whether sigFields carries a device_signature made by pub
// over its other fields. A missing or undecodable device_signature is
// false, not an error: it is a signature that does not verify.
//
// Errors: ErrBadKey, ErrNotCanonicalizable (the record cannot be read, so
// nothing can be said).
func Verify(pub ed25519.PublicKey, sigFields map[string]json.RawMessage) (bool, error) {
	if len(pub) != ed25519.PublicKeySize {
		return false, fmt.Errorf("verify: public key: %w", ErrBadKey)
	}
	payload, err := Payload(sigFields)
	if err != nil {
		return false, err
	}
	var b64 string
	if raw, ok := sigFields[FieldDeviceSignature]; !ok || json.Unmarshal(raw, &b64) != nil {
		return false, nil
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return false, nil
	}
	return ed25519.Verify(pub, payload, sig), nil
}

// Status judges a signature record against the current content of the
// record it signed (see Content; nil when that record no longer exists)
// and the enrolled public key of the device named in its device_id:
// StatusInvalid unless the device signature verifies, then StatusStale
// unless the content still hashes to signed_content_sha256, else
// StatusValid. Anything unreadable is StatusInvalid.
func Status(sigFields, signedRecordFields map[string]json.RawMessage, devicePub ed25519.PublicKey) string {
	ok, err := Verify(devicePub, sigFields)
	if err != nil || !ok {
		return StatusInvalid
	}
	var want string
	if err := json.Unmarshal(sigFields[FieldSignedContentSHA256], &want); err != nil || want == "" {
		return StatusInvalid
	}
	if signedRecordFields == nil {
		return StatusStale
	}
	got, err := ContentSHA256(signedRecordFields)
	if err != nil || got != want {
		return StatusStale
	}
	return StatusValid
}

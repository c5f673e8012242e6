package client

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
)

// PII at rest.
//
// The values of PII fields (Options.PIIFields; by default members.id_number,
// the 身份证号) are
// stored in the tablet file sealed with AES-256-GCM, bound to their record
// and field (the additional data), so they do not show up in a copy of the
// file, a backup or a grep of the storage.
//
// Limitation, stated plainly: the key lives in the same file (meta
// "pii_key"). This protects against casual reading of the file, file
// carving and logs, not against someone who has the whole file and reads
// this source. Real protection needs the key outside the file (Android
// Keystore, or derived from a PIN the officer types); the cipher is isolated
// here so that change touches only where the key comes from. The values are
// sent to the server in clear inside the TLS connection, and records pulled
// from the server are sealed before they are stored.

// defaultPIIFields is used when Options.PIIFields is nil.
func defaultPIIFields(collection string) []string {
	if collection == CollectionMembers {
		return []string{"id_number"}
	}
	return nil
}

// sealedValue is the stored form of a sealed value.
type sealedValue struct {
	Sealed string `json:"$sealed"` // base64(nonce ‖ ciphertext)
}

type piiCipher struct {
	aead   cipher.AEAD
	fields func(collection string) []string
}

// hasPII reports whether a collection has PII fields.
func (p *piiCipher) hasPII(collection string) bool {
	return p != nil && len(p.fields(collection)) > 0
}

// isPII reports whether a field's value is sealed at rest.
func (p *piiCipher) isPII(collection, field string) bool {
	return p != nil && slices.Contains(p.fields(collection), field)
}

func newPIICipher(key []byte, fields func(string) []string) (*piiCipher, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("pii key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("pii key: %w", err)
	}
	return &piiCipher{aead: aead, fields: fields}, nil
}

func piiAD(collection, id, field string) []byte {
	return []byte(collection + "/" + id + "\x00" + field)
}

func (p *piiCipher) seal(collection, id, field string, v json.RawMessage) (json.RawMessage, error) {
	if !p.isPII(collection, field) || len(v) == 0 || string(v) == "null" {
		return v, nil
	}
	nonce := make([]byte, p.aead.NonceSize(), p.aead.NonceSize()+len(v)+p.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal %s.%s: %w", collection, field, err)
	}
	ct := p.aead.Seal(nonce, nonce, v, piiAD(collection, id, field))
	return json.Marshal(sealedValue{Sealed: base64.StdEncoding.EncodeToString(ct)})
}

func (p *piiCipher) open(collection, id, field string, v json.RawMessage) (json.RawMessage, error) {
	if !p.isPII(collection, field) || len(v) == 0 || v[0] != '{' {
		return v, nil
	}
	var s sealedValue
	if err := json.Unmarshal(v, &s); err != nil || s.Sealed == "" {
		return v, nil // not sealed: a value stored before sealing existed
	}
	ct, err := base64.StdEncoding.DecodeString(s.Sealed)
	if err != nil || len(ct) < p.aead.NonceSize() {
		return nil, fmt.Errorf("open %s/%s.%s: sealed value is corrupt", collection, id, field)
	}
	n := p.aead.NonceSize()
	pt, err := p.aead.Open(nil, ct[:n], ct[n:], piiAD(collection, id, field))
	if err != nil {
		return nil, fmt.Errorf("open %s/%s.%s: %w", collection, id, field, err)
	}
	return pt, nil
}

func (p *piiCipher) sealFields(collection, id string, set map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	return p.mapFields(collection, id, set, p.seal)
}

func (p *piiCipher) openFields(collection, id string, set map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	return p.mapFields(collection, id, set, p.open)
}

func (p *piiCipher) mapFields(collection, id string, set map[string]json.RawMessage, fn func(collection, id, field string, v json.RawMessage) (json.RawMessage, error)) (map[string]json.RawMessage, error) {
	if !p.hasPII(collection) {
		return set, nil
	}
	out := make(map[string]json.RawMessage, len(set))
	for name, v := range set {
		nv, err := fn(collection, id, name, v)
		if err != nil {
			return nil, err
		}
		out[name] = nv
	}
	return out, nil
}

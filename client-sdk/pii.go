package client

import (
	"bytes"
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
// The values of PII fields (Options.PIIFields; by default the fields the
// shipped schemas mark: households' head_name, address and phone, members'
// name and id_number (the 身份证号), visits' answered_by_name) are stored in
// the tablet file sealed with AES-256-GCM, bound to their record and field
// (the additional data), so they do not show up in a copy of the file, a
// backup or a grep of the storage.
//
// Where the key comes from is tabletkeys.go: until a PIN is set it lives in
// the same file (meta "pii_key"), which only keeps values out of casual
// reading, carving and logs; once a PIN is set it is kept only wrapped
// under a key derived from the PIN (argon2id) and the server's key share,
// whose lease ends without a sync. The values are sent to the server in
// clear inside the TLS connection, and records pulled from the server are
// sealed before they are stored.

// defaultPIIFields is used when Options.PIIFields is nil: what the
// shipped schemas mark (x-ruhu pii).
func defaultPIIFields(collection string) []string {
	switch collection {
	case CollectionHouseholds:
		return []string{"head_name", "address", "phone"}
	case CollectionMembers:
		return []string{"name", "id_number"}
	case CollectionVisits:
		return []string{"answered_by_name"}
	}
	return nil
}

// sealedValue is the stored form of a sealed value.
type sealedValue struct {
	Sealed string `json:"$sealed"` // base64(nonce ‖ ciphertext)
}

type piiCipher struct {
	keys   *keySlot
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

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("pii key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("pii key: %w", err)
	}
	return aead, nil
}

func piiAD(collection, id, field string) []byte {
	return []byte(collection + "/" + id + "\x00" + field)
}

func (p *piiCipher) seal(collection, id, field string, v json.RawMessage) (json.RawMessage, error) {
	if !p.isPII(collection, field) || len(v) == 0 || string(v) == "null" {
		return v, nil
	}
	aead, err := p.keys.current()
	if err != nil {
		return nil, fmt.Errorf("seal %s/%s.%s: %w", collection, id, field, err)
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(v)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal %s.%s: %w", collection, field, err)
	}
	ct := aead.Seal(nonce, nonce, v, piiAD(collection, id, field))
	// The JSON of sealedValue, written directly (base64 needs no escaping).
	out := make([]byte, 0, len(sealedPrefix)+base64.StdEncoding.EncodedLen(len(ct))+len(sealedSuffix))
	out = append(out, sealedPrefix...)
	out = base64.StdEncoding.AppendEncode(out, ct)
	return append(out, sealedSuffix...), nil
}

// The stored form of a sealed value, as seal writes it.
const (
	sealedPrefix = `{"$sealed":"`
	sealedSuffix = `"}`
)

// sealedText returns the base64 text of a sealed value: by its fixed form
// when seal wrote it, else by decoding the JSON; "" when v is not sealed.
func sealedText(v json.RawMessage) string {
	if len(v) >= len(sealedPrefix)+len(sealedSuffix) && bytes.HasPrefix(v, []byte(sealedPrefix)) && bytes.HasSuffix(v, []byte(sealedSuffix)) {
		if t := v[len(sealedPrefix) : len(v)-len(sealedSuffix)]; bytes.IndexByte(t, '"') < 0 && bytes.IndexByte(t, '\\') < 0 {
			return string(t)
		}
	}
	var s sealedValue
	if err := json.Unmarshal(v, &s); err != nil {
		return ""
	}
	return s.Sealed
}

func (p *piiCipher) open(collection, id, field string, v json.RawMessage) (json.RawMessage, error) {
	if !p.isPII(collection, field) || len(v) == 0 || v[0] != '{' {
		return v, nil
	}
	text := sealedText(v)
	if text == "" {
		return v, nil // not sealed: a value stored before sealing existed
	}
	aead, err := p.keys.current()
	if err != nil {
		return nil, fmt.Errorf("open %s/%s.%s: %w", collection, id, field, err)
	}
	ct, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(ct) < aead.NonceSize() {
		return nil, fmt.Errorf("open %s/%s.%s: sealed value is corrupt", collection, id, field)
	}
	n := aead.NonceSize()
	pt, err := aead.Open(nil, ct[:n], ct[n:], piiAD(collection, id, field))
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

// blobMagic starts a sealed blob (a draft); one stored before drafts were
// sealed lacks it and reads as it is.
var blobMagic = []byte("RSB1")

// sealBlob seals a whole value (a form draft, which holds what was typed
// of personal fields) bound to ad, its key in the store.
func (p *piiCipher) sealBlob(ad string, data []byte) ([]byte, error) {
	if p == nil {
		return data, nil
	}
	aead, err := p.keys.current()
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", ad, err)
	}
	out := make([]byte, len(blobMagic)+aead.NonceSize(), len(blobMagic)+aead.NonceSize()+len(data)+aead.Overhead())
	copy(out, blobMagic)
	nonce := out[len(blobMagic):]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal %s: %w", ad, err)
	}
	return aead.Seal(out, nonce, data, []byte(ad)), nil
}

// openBlob opens what sealBlob sealed under ad.
func (p *piiCipher) openBlob(ad string, b []byte) ([]byte, error) {
	if p == nil || !bytes.HasPrefix(b, blobMagic) {
		return b, nil
	}
	aead, err := p.keys.current()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", ad, err)
	}
	b = b[len(blobMagic):]
	if len(b) < aead.NonceSize() {
		return nil, fmt.Errorf("open %s: sealed value is corrupt", ad)
	}
	n := aead.NonceSize()
	pt, err := aead.Open(nil, b[:n], b[n:], []byte(ad))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", ad, err)
	}
	return pt, nil
}

package signature_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ruhu-dev/ruhu/assets/signature"
)

// deterministicKey derives a key pair from a seed so failures reproduce.
func deterministicKey(seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed
	}
	priv := ed25519.NewKeyFromSeed(s)
	return priv.Public().(ed25519.PublicKey), priv
}

func fields(t *testing.T, m map[string]any) map[string]json.RawMessage {
	t.Helper()
	out := map[string]json.RawMessage{}
	for k, v := range m {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = b
	}
	return out
}

func visit(t *testing.T) map[string]json.RawMessage {
	return fields(t, map[string]any{
		"household_id": "HH001", "officer": "wang", "visited_at": "2025-11-03T09:41:00+08:00",
		"checklist": map[string]string{"food": "ok", "clothing": "ok", "education": "ok", "medical": "ok", "housing": "problem", "drinking_water": "ok"},
		"notes":     "屋顶漏雨",
	})
}

// signed builds a signature record over record and signs it with priv.
func signed(t *testing.T, priv ed25519.PrivateKey, record map[string]json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	sum, err := signature.ContentSHA256(record)
	if err != nil {
		t.Fatal(err)
	}
	sig := fields(t, map[string]any{
		"signer_name": "张建国", "signer_role": "household_head", "signed_collection": "visits",
		"signed_record_id": "V1", "signed_content_sha256": sum, "signed_at": "2025-11-03T09:45:00+08:00",
		"purpose": "visit", "device_id": "dev1", "image_sha256": "ab" + sum[2:],
		"strokes": [][]map[string]float64{{{"x": 10.5, "y": 20, "t": 0}, {"x": 30, "y": 25.25, "t": 16}}},
	})
	ds, err := signature.Sign(priv, sig)
	if err != nil {
		t.Fatal(err)
	}
	sig[signature.FieldDeviceSignature], _ = json.Marshal(ds)
	return sig
}

func TestContentSHA256IgnoresEncoding(t *testing.T) {
	a := map[string]json.RawMessage{"b": json.RawMessage(`{"y": 1.50, "x": "张"}`), "a": json.RawMessage(`[1e2, true]`)}
	b := map[string]json.RawMessage{"a": json.RawMessage(`[100,true]`), "b": json.RawMessage(`{"x":"\u5f20","y":1.5}`)}
	ha, err := signature.ContentSHA256(a)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := signature.ContentSHA256(b)
	if err != nil {
		t.Fatal(err)
	}
	if ha != hb || len(ha) != 64 {
		t.Fatalf("same content, different hashes: %s %s", ha, hb)
	}
	want := sha256.Sum256([]byte(`{"a":[100,true],"b":{"x":"张","y":1.5}}`))
	if ha != hex.EncodeToString(want[:]) {
		t.Fatalf("hash %s is not the sha256 of the canonical text", ha)
	}
	b["a"] = json.RawMessage(`[100,false]`)
	if hc, _ := signature.ContentSHA256(b); hc == ha {
		t.Fatal("changed content, same hash")
	}
	if _, err := signature.ContentSHA256(map[string]json.RawMessage{"a": json.RawMessage(`{"k":1,"k":2}`)}); !errors.Is(err, signature.ErrNotCanonicalizable) {
		t.Fatalf("duplicate key inside a value: %v", err)
	}
}

func TestContentLeavesOutAnnotations(t *testing.T) {
	v := visit(t)
	before, _ := signature.ContentSHA256(signature.Content(v, []string{"review_note", "review_status"}))
	v["review_note"] = json.RawMessage(`"复核：情况属实"`)
	after, _ := signature.ContentSHA256(signature.Content(v, []string{"review_note", "review_status"}))
	if before != after {
		t.Fatal("a review annotation changed the signed content")
	}
	if _, ok := v["review_note"]; !ok {
		t.Fatal("Content modified its input")
	}
}

func TestSignVerifyStatus(t *testing.T) {
	pub, priv := deterministicKey(1)
	otherPub, otherPriv := deterministicKey(2)
	record := visit(t)
	sig := signed(t, priv, record)

	edited := visit(t)
	edited["notes"] = json.RawMessage(`"屋顶已修好"`)
	reordered := map[string]json.RawMessage{}
	for k, v := range record {
		reordered[k] = v
	}
	reordered["checklist"] = json.RawMessage(`{"drinking_water":"ok","housing":"problem","medical":"ok","education":"ok","clothing":"ok","food":"ok"}`)

	alter := func(field string, v any) map[string]json.RawMessage {
		out := map[string]json.RawMessage{}
		for k, val := range sig {
			out[k] = val
		}
		if v == nil {
			delete(out, field)
		} else {
			out[field], _ = json.Marshal(v)
		}
		return out
	}
	forged := alter("device_signature", nil)
	fd, err := signature.Sign(otherPriv, forged)
	if err != nil {
		t.Fatal(err)
	}
	forged[signature.FieldDeviceSignature], _ = json.Marshal(fd)
	flipped := alter("device_signature", nil)
	var ds string
	_ = json.Unmarshal(sig[signature.FieldDeviceSignature], &ds)
	b := []byte(ds)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	flipped[signature.FieldDeviceSignature], _ = json.Marshal(string(b))

	tests := []struct {
		name   string
		sig    map[string]json.RawMessage
		record map[string]json.RawMessage
		pub    ed25519.PublicKey
		want   string
	}{
		{"valid", sig, record, pub, signature.StatusValid},
		{"valid whatever the record's encoding", sig, reordered, pub, signature.StatusValid},
		{"stale after the signed record is edited", sig, edited, pub, signature.StatusStale},
		{"stale when the signed record is gone", sig, nil, pub, signature.StatusStale},
		{"invalid: another device's key", sig, record, otherPub, signature.StatusInvalid},
		{"invalid: signed by another device", forged, record, pub, signature.StatusInvalid},
		{"invalid: signature bytes altered", flipped, record, pub, signature.StatusInvalid},
		{"invalid: missing signature", alter("device_signature", nil), record, pub, signature.StatusInvalid},
		{"invalid: not base64", alter("device_signature", "%%%"), record, pub, signature.StatusInvalid},
		{"invalid: signature not a string", alter("device_signature", 42), record, pub, signature.StatusInvalid},
		{"invalid: signer changed after signing", alter("signer_name", "李四"), record, pub, signature.StatusInvalid},
		{"invalid: role changed after signing", alter("signer_role", "officer"), record, pub, signature.StatusInvalid},
		{"invalid: content hash swapped after signing", alter("signed_content_sha256", mustHash(t, edited)), edited, pub, signature.StatusInvalid},
		{"invalid: field added after signing", alter("purpose", "acceptance"), record, pub, signature.StatusInvalid},
		{"invalid: no public key", sig, record, nil, signature.StatusInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := signature.Status(tt.sig, tt.record, tt.pub); got != tt.want {
				t.Fatalf("Status = %s, want %s", got, tt.want)
			}
		})
	}

	if ok, err := signature.Verify(pub, sig); !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	if _, err := signature.Verify(pub[:10], sig); !errors.Is(err, signature.ErrBadKey) {
		t.Fatalf("short key: %v", err)
	}
	if _, err := signature.Sign(priv[:10], sig); !errors.Is(err, signature.ErrBadKey) {
		t.Fatalf("short private key: %v", err)
	}
}

func mustHash(t *testing.T, f map[string]json.RawMessage) string {
	t.Helper()
	h, err := signature.ContentSHA256(f)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestPayloadExcludesOnlyTheSignature: the payload is the record without
// device_signature, so it is the same before and after signing, and any
// other field counts.
func TestPayloadExcludesOnlyTheSignature(t *testing.T) {
	_, priv := deterministicKey(3)
	sig := signed(t, priv, visit(t))
	with, err := signature.Payload(sig)
	if err != nil {
		t.Fatal(err)
	}
	delete(sig, signature.FieldDeviceSignature)
	without, err := signature.Payload(sig)
	if err != nil {
		t.Fatal(err)
	}
	if string(with) != string(without) {
		t.Fatalf("payload depends on device_signature:\n%s\n%s", with, without)
	}
	var back map[string]json.RawMessage
	if err := json.Unmarshal(with, &back); err != nil || len(back) != len(sig) {
		t.Fatalf("payload %s: %v", with, err)
	}
}

// TestSignatureSurvivesReencoding: a server that stores the field values
// re-encoded (numbers respelled, keys reordered) still verifies.
func TestSignatureSurvivesReencoding(t *testing.T) {
	pub, priv := deterministicKey(4)
	record := visit(t)
	sig := signed(t, priv, record)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		re := map[string]json.RawMessage{}
		for k, v := range sig {
			var x any
			if err := json.Unmarshal(v, &x); err != nil {
				t.Fatal(err)
			}
			b, _ := json.MarshalIndent(x, "", "  ")
			if r.IntN(2) == 0 {
				b, _ = json.Marshal(x)
			}
			re[k] = b
		}
		if got := signature.Status(re, record, pub); got != signature.StatusValid {
			t.Fatalf("re-encoded signature record: %s", got)
		}
	}
}

// BenchmarkSignatureRecord canonicalizes and signs a signature record
// with 20 strokes of 50 points, as CaptureSignature does.
func BenchmarkSignatureRecord(b *testing.B) {
	_, priv := deterministicKey(5)
	strokes := make([][]map[string]float64, 20)
	for i := range strokes {
		for j := 0; j < 50; j++ {
			strokes[i] = append(strokes[i], map[string]float64{"x": float64(i*7+j) * 1.25, "y": float64(j%13) * 3.5, "t": float64(i*500 + j*16)})
		}
	}
	sig := map[string]json.RawMessage{}
	for k, v := range map[string]any{"signer_name": "张建国", "signer_role": "household_head", "signed_collection": "visits",
		"signed_record_id": "V1", "signed_content_sha256": strings.Repeat("ab", 32), "strokes": strokes} {
		sig[k], _ = json.Marshal(v)
	}
	payload, _ := signature.Payload(sig)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := signature.Sign(priv, sig); err != nil {
			b.Fatal(err)
		}
	}
}

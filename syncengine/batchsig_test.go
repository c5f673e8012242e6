package syncengine_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/ruhu-dev/ruhu/syncengine"
)

func TestBatchSignature(t *testing.T) {
	pub, priv := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey), ed25519.NewKeyFromSeed(make([]byte, 32))
	body := []byte(`{"ops":[]}`)
	good, err := syncengine.ParseBatchSignature(syncengine.SignBatch(priv, "d1", body))
	if err != nil {
		t.Fatal(err)
	}
	digest := syncengine.BatchDigest(body)
	tests := []struct {
		name   string
		device string
		digest [sha256.Size]byte
		sig    []byte
		ok     bool
	}{
		{"as signed", "d1", digest, good, true},
		{"another device id", "d2", digest, good, false},
		{"another body", "d1", syncengine.BatchDigest([]byte(`{"ops":[] }`)), good, false},
		// The device key also signs record digests (signature records): a
		// plain signature over the digest must not pass as a batch signature.
		{"a signature over the bare digest", "d1", digest, ed25519.Sign(priv, digest[:]), false},
		{"short", "d1", digest, good[:10], false},
	}
	for _, tt := range tests {
		err := syncengine.VerifyBatch(pub, tt.device, tt.digest, tt.sig)
		if (err == nil) != tt.ok {
			t.Errorf("%s: VerifyBatch = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && syncengine.ErrorCode(err) != syncengine.EFORBIDDEN {
			t.Errorf("%s: code %s, want EFORBIDDEN", tt.name, syncengine.ErrorCode(err))
		}
	}
}

// FuzzBatchEnvelope feeds arbitrary header values and bodies to the push
// envelope: parsing never panics, accepts only the canonical base64 of 64
// bytes, and a parsed signature verifies only for the body it was made
// over by the key that made it.
func FuzzBatchEnvelope(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	pub := priv.Public().(ed25519.PublicKey)
	f.Add(syncengine.SignBatch(priv, "d1", []byte(`{"ops":[]}`)), []byte(`{"ops":[]}`))
	f.Add("", []byte{})
	f.Add(base64.StdEncoding.EncodeToString(make([]byte, 64)), []byte("x"))
	f.Add(base64.RawStdEncoding.EncodeToString(make([]byte, 64))+"==", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		sig, err := syncengine.ParseBatchSignature(header)
		if err != nil {
			if syncengine.ErrorCode(err) != syncengine.EFORBIDDEN {
				t.Fatalf("code %s", syncengine.ErrorCode(err))
			}
			return
		}
		if base64.StdEncoding.EncodeToString(sig) != header {
			t.Fatalf("accepted a non-canonical header %q", header)
		}
		mine := syncengine.SignBatch(priv, "d1", body)
		if err := syncengine.VerifyBatch(pub, "d1", syncengine.BatchDigest(body), sig); (err == nil) != (header == mine) {
			t.Fatalf("verify of %q over %q = %v (own signature %q)", header, body, err, mine)
		}
	})
}

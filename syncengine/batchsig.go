package syncengine

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
)

// BatchSignatureHeader carries a push batch's signature: the standard
// base64 (padded) of an ed25519 signature by the enrolled device key over
// BatchMessage. A batch signed by the device cannot later be denied by it,
// and a stolen access token alone cannot push in its name.
const BatchSignatureHeader = "Ruhu-Batch-Signature"

// batchDomain separates batch signatures from everything else the device
// key signs (signature records sign a record digest): a signature over one
// can never pass for the other.
const batchDomain = "ruhu push batch v1\x00"

// BatchDigest is the digest of a push batch: sha256 of the request body
// exactly as sent before any content encoding (the JSON, not its gzip).
func BatchDigest(body []byte) [sha256.Size]byte { return sha256.Sum256(body) }

// BatchMessage is what the device key signs for a batch: a domain tag, the
// device id and the batch digest, so a signature is bound to its device.
func BatchMessage(deviceID string, digest [sha256.Size]byte) []byte {
	m := make([]byte, 0, len(batchDomain)+len(deviceID)+1+sha256.Size)
	m = append(m, batchDomain...)
	m = append(m, deviceID...)
	m = append(m, 0)
	return append(m, digest[:]...)
}

// SignBatch returns the BatchSignatureHeader value for body pushed by
// device deviceID with key priv.
func SignBatch(priv ed25519.PrivateKey, deviceID string, body []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(priv, BatchMessage(deviceID, BatchDigest(body))))
}

// ErrBatchSignature is the refusal of a batch whose signature header is
// malformed or does not verify with the device's enrolled key (EFORBIDDEN:
// the credentials are fine, the batch is not the device's).
var ErrBatchSignature = Errorf(EFORBIDDEN, "the batch signature (%s) does not verify with this device's enrolled key", BatchSignatureHeader)

// ParseBatchSignature reads a BatchSignatureHeader value strictly: the
// canonical standard base64 of exactly ed25519.SignatureSize bytes.
func ParseBatchSignature(h string) ([]byte, error) {
	if len(h) != base64.StdEncoding.EncodedLen(ed25519.SignatureSize) {
		return nil, ErrBatchSignature
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(h)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, ErrBatchSignature
	}
	return sig, nil
}

// VerifyBatch reports whether sig is deviceID's signature, by pub, over the
// batch with digest.
func VerifyBatch(pub ed25519.PublicKey, deviceID string, digest [sha256.Size]byte, sig []byte) error {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return ErrBatchSignature
	}
	if !ed25519.Verify(pub, BatchMessage(deviceID, digest), sig) {
		return ErrBatchSignature
	}
	return nil
}

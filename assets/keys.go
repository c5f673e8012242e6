package assets

import (
	"fmt"
	"regexp"
)

// Object key scheme. Originals are addressed by the sha256 of their bytes;
// derived images hang off the same hash so that deleting or re-deriving them
// never touches the original. Two-character fan-out keeps local folders small.
const (
	originalPrefix = "orig"
	previewPrefix  = "preview"
	thumbPrefix    = "thumb"
)

var (
	sha256Hex  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	keyGrammar = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$`)
	idGrammar  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

// ValidSHA256 reports whether s is a lowercase hex sha256 digest, the only
// form blob names take.
func ValidSHA256(s string) bool { return sha256Hex.MatchString(s) }

// ValidKey reports whether key is a safe object key: lowercase ASCII
// segments of [a-z0-9._-] separated by single slashes, each segment starting
// with a letter or digit (so no "..", no hidden files, no absolute paths),
// at most 512 bytes. The same key is then valid on disk and in S3.
func ValidKey(key string) bool { return len(key) <= 512 && keyGrammar.MatchString(key) }

// ValidUploadID reports whether id can name a staged upload: 1 to 128 of
// [A-Za-z0-9_-] (UUIDs, ULIDs and base64url ids all fit).
func ValidUploadID(id string) bool { return idGrammar.MatchString(id) }

// OriginalKey is the key of the original bytes whose sha256 is sha. For a
// sha that fails ValidSHA256 this and the other key functions return a key
// that fails ValidKey, so every Store refuses it with ErrInvalidKey.
func OriginalKey(sha string) string { return shaKey(originalPrefix, sha, "") }

// PreviewKey is the key of the ≈1280 px JPEG preview of original sha.
func PreviewKey(sha string) string { return shaKey(previewPrefix, sha, ".jpg") }

// ThumbKey is the key of the ≈256 px JPEG thumbnail of original sha.
func ThumbKey(sha string) string { return shaKey(thumbPrefix, sha, ".jpg") }

func shaKey(prefix, sha, ext string) string {
	if !ValidSHA256(sha) {
		// A programming error upstream; produce a key that ValidKey rejects
		// so no backend ever writes it.
		return fmt.Sprintf("/invalid/%q", sha)
	}
	return prefix + "/" + sha[:2] + "/" + sha + ext
}

package schemas

import (
	"encoding/json"
	"slices"
)

// CitedBlobs returns the sha256s that a record (or patch) cites through its
// collection's CitesBlobs fields, sorted and without duplicates: the
// completeness manifest the server checks against uploaded blobs. Absent
// fields are skipped. It does not validate the hashes themselves (run
// ValidatePatch or ValidateRecord first); a cited field that is not a
// string or an array of strings is refused with a *FieldError wrapping
// ErrInvalidValue, an unknown collection with ErrUnknownCollection.
func (r *Registry) CitedBlobs(collection string, fields map[string]json.RawMessage) ([]string, error) {
	c, err := r.lookup(collection)
	if err != nil {
		return nil, err
	}
	var hashes []string
	for _, field := range c.policy.CitesBlobs {
		raw, ok := fields[field]
		if !ok {
			continue
		}
		var one string
		if err := json.Unmarshal(raw, &one); err == nil {
			hashes = append(hashes, one)
			continue
		}
		var many []string
		if err := json.Unmarshal(raw, &many); err != nil {
			return nil, &FieldError{Collection: c.name, Field: field, Reason: "want a sha256 or an array of sha256", kind: ErrInvalidValue}
		}
		hashes = append(hashes, many...)
	}
	slices.Sort(hashes)
	return slices.Compact(hashes), nil
}

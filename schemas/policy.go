package schemas

import "slices"

// CollectionPolicy is what the sync layer, the evidence checks and the
// tablet store need to know about a collection beyond field types. It is
// read from the "x-ruhu" keyword at the top of the collection's schema file,
// so the schema stays the single place where a collection is described.
// The zero value (returned for unknown collections) is a mutable collection
// that cites no blobs and holds no PII.
type CollectionPolicy struct {
	// AppendOnly marks evidence collections (visits, checkins, photos,
	// signatures): a record is created once; later ops may set only
	// Annotations, and deletion is a tombstone with a reason.
	AppendOnly bool
	// Annotations are the fields that may still be set on an append-only
	// record after creation (e.g. "review_note", "review_status"). Empty for
	// collections that are not append-only.
	Annotations []string
	// CitesBlobs are the fields whose values are sha256 hex strings or arrays
	// of them: the blobs a record needs before its evidence is complete.
	CitesBlobs []string
	// PII are the fields holding personal identifiers (ID numbers) that the
	// tablet encrypts at rest and lists show masked.
	PII []string
}

// MaySetAfterCreate reports whether an op may set field on a record that
// already exists: always for mutable collections, only for Annotations on
// append-only ones.
func (p CollectionPolicy) MaySetAfterCreate(field string) bool {
	return !p.AppendOnly || slices.Contains(p.Annotations, field)
}

func (p CollectionPolicy) clone() CollectionPolicy {
	return CollectionPolicy{
		AppendOnly:  p.AppendOnly,
		Annotations: slices.Clone(p.Annotations),
		CitesBlobs:  slices.Clone(p.CitesBlobs),
		PII:         slices.Clone(p.PII),
	}
}

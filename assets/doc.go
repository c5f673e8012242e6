// Package assets holds the vocabulary for evidence blobs (photos and
// signatures): the Store interface that every blob backend implements, the
// object keys under which originals and their derived images live, and the
// errors callers branch on.
//
// Backends live in their own packages (assets/diskstore, assets/s3store) so
// that callers depend on this interface, not on a technology. Image work lives
// in assets/photo and the pure evidence checks in assets/findings.
package assets

// Package uploads receives evidence blobs (photos and signatures) over the
// tus 1.0 resumable upload protocol and runs them through the blob
// pipeline: verify the sha256, commit to the blob store, then process the
// image (preview, thumbnail, EXIF time and GPS, perceptual hash) on a
// bounded worker pool and keep the facts in bbolt.
//
// Supported tus extensions: creation, creation-with-upload, checksum
// (sha256, verified per PATCH), termination and expiration. Upload state
// lives in bbolt and the bytes are staged in the blob store, so an upload
// survives dropped connections, client restarts and server restarts. A PATCH
// cut midway keeps what arrived (when it carries no checksum: a checksum
// covers the whole chunk, so an unverifiable partial chunk is dropped).
//
// One limit of the HTTP layer: fasthttp reads the first 8 KiB of a body
// with a Content-Length before the handler runs, and a request cut inside
// those is never seen, so such a cut costs up to 8 KiB. A chunked body is
// not read ahead (the handler sees it from the first byte), which is why
// the tablet SDK sends its PATCH bodies chunked.
//
// Knowing a blob's sha256 never grants its bytes: a creation naming a
// verified blob completes at once only for a caller who can already read
// it; anyone else sends the bytes, which are verified before a reference
// is added. Out-of-scope records and other users' uploads answer exactly
// like unknown ones.
//
// Every error answers with the tus status code and the API's JSON body
// {"code","message"}; see Error.
package uploads

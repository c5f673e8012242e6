// Package client is the tablet side of ruhu: a bbolt file that holds the
// records an officer may see, the operations made offline (the outbox), and
// the sync client that pushes them and pulls the server's changes.
//
// Local state is always "last server state ⊕ pending ops": every record keeps
// the state the server last sent (plus the tablet's own acknowledged ops) and
// the view shown to the user, which is that state with the still-unsent ops
// re-applied by syncengine.ApplyOp. Every change of state (a write, a pushed
// batch, a pulled page) is one bbolt transaction, so a crash at any point
// leaves a consistent file; a crash between a push and its acknowledgement
// only means the ops are sent again, which the server ignores by op id.
//
// Operations are never lost: acknowledged ops move to a "sent" bucket so a
// server restored from an old backup can be fed them again, and ops the
// server refuses are parked in a "rejected" bucket for the user, never
// retried and never blocking the others.
//
// Evidence (photos and signatures) is written like any record — the photos
// or signatures record goes through the outbox at once — and its files wait
// in an upload queue kept in the same file (uploadqueue.go), sent by Upload
// over tus in chunks of adaptive size, resumable across cut connections
// (the server keeps what arrived of a cut chunk; the complete file is
// checked against its sha256) and restarts. The files themselves live in
// a folder beside the tablet file (blobs.go). Signatures are hashed and
// device-signed with package assets/signature.
//
// Personal fields (names, ID numbers, phones: the schemas' pii) and form
// drafts are sealed in the file (pii.go). Once a PIN is set, their key is
// derived from the PIN and a key share the server hands out at each sync
// with a lease (tabletkeys.go): Unlock opens them, Lock and the lease's
// end seal them again, and too many wrong PINs wipe the file.
//
// Errors carry the stable codes of package syncengine (syncengine.ErrorCode):
// EINVALID, ENOTFOUND, ECONFLICT, EUNAUTHORIZED, EREVOKED, ETRANSIENT, and
// the tablet key's ELOCKED, ELEASE, EPIN and EPINWAIT.
package client

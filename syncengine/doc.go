// Package syncengine is the sync model shared by the tablet and the server:
// the hybrid logical clock, operations, the per-field merge rule, conflict
// detection, cursors and the push/pull wire types.
//
// It imports only the standard library. Storage and transport are interfaces
// declared here (Tx, Transport) and implemented by their owners: the server's
// bbolt store, the client SDK's bbolt store and HTTP client.
//
// The merge rule is the same function on every replica: for each field the
// value with the highest (HLC, device id, op id) wins, so replicas that have
// applied the same set of operations hold the same state whatever order the
// operations arrived in. Conflicts are detected, not only resolved: when an
// operation changes a field whose current version it never saw, to a
// different value, the server records both candidates in a Conflict for a
// supervisor, while the deterministic winner stays applied.
package syncengine

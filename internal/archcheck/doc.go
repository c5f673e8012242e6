// Package archcheck holds the test that keeps the arrows of DESIGN.md
// pointing one way: cmd → server | client-sdk → syncengine, assets,
// schemas, rules; syncengine imports only the standard library; the
// application core (server/core) imports no HTTP framework, no net/http
// and no storage engine; rules and schemas import no storage; client-sdk
// does not import server. `make lint` runs it; it reads the import graph
// with one `go list` call.
package archcheck

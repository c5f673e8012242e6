package server_test

import (
	"testing"

	"github.com/ruhu-dev/ruhu/server/boltstore"
)

// TestHealthNamesStoreAndSchema: /healthz answers the store's kind and
// layout version beside its epoch and last sequence (PostgreSQL's are
// checked by cmd/ruhu's TestServeOnPostgres).
func TestHealthNamesStoreAndSchema(t *testing.T) {
	ts := startServer(t, serverOptions{})
	var h struct {
		Status string `json:"status"`
		Epoch  string `json:"epoch"`
		Store  string `json:"store"`
		Schema int    `json:"schema"`
	}
	ts.mustJSON("GET", "/healthz", "", nil, 200, &h)
	if h.Status != "ok" || h.Store != "bbolt" || h.Schema != boltstore.SchemaVersion || h.Epoch != ts.store.Epoch() {
		t.Fatalf("/healthz = %+v, want ok, bbolt, schema %d, epoch %s", h, boltstore.SchemaVersion, ts.store.Epoch())
	}
}

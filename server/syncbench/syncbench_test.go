package syncbench_test

import (
	"context"
	"testing"

	"github.com/ruhu-dev/ruhu/server/syncbench"
)

// TestSmallRun runs the whole benchmark at small sizes: every stage must
// work end to end and account for every op (figures are not judged here).
func TestSmallRun(t *testing.T) {
	res, err := syncbench.Run(context.Background(), syncbench.Options{Dir: t.TempDir(), PushOps: 1500, Tablets: 4, OpsPerTablet: 150, BigStoreRecords: 3000})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lost != 0 || res.Doubled != 0 {
		t.Fatalf("lost %d, doubled %d", res.Lost, res.Doubled)
	}
	if res.OpJSONBytes < 700 || res.OpJSONBytes > 1100 {
		t.Fatalf("op is %v bytes of JSON, want about 850", res.OpJSONBytes)
	}
	if res.WireBytesPerOp <= 0 || res.WireBytesPerOp >= res.OpJSONBytes {
		t.Fatalf("wire bytes per op %v: gzip should shrink %v", res.WireBytesPerOp, res.OpJSONBytes)
	}
	t.Logf("%+v", res)
}

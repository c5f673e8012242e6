package client_test

import (
	"context"
	"testing"
)

// BenchmarkUploadOriginal sends a 4.8 MB photo original over loopback to
// the in-test tus server (chunks growing to 1 MiB): the
// client's own cost per byte, the network aside.
func BenchmarkUploadOriginal(b *testing.B) {
	_, _, tb := evidenceTablet(b, nil)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		original := noisePNG(b, 1100, 1100, uint64(i))
		tb.attach(b, "HH1", "before", original)
		tb.upload(b, false) // the evidence copy
		b.SetBytes(int64(len(original)))
		b.StartTimer()
		rep, err := tb.UploadAll(context.Background(), nil)
		if err != nil || rep.Uploaded != 1 {
			b.Fatalf("%+v %v", rep, err)
		}
	}
}

package uploads_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/ruhu-dev/ruhu/assets/miniotest"
	"github.com/ruhu-dev/ruhu/assets/s3store"
)

// TestChunkedPatchOnMinIO: the tablet SDK sends PATCH bodies chunked (no
// Content-Length) so that the server keeps what arrived of a cut chunk;
// with blobs in MinIO such a chunk of unknown size must be stored too, and
// the upload completes byte for byte.
func TestChunkedPatchOnMinIO(t *testing.T) {
	mio := miniotest.Start(t)
	opts, err := s3store.ParseURL(mio.URL("ruhu-blobs"))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := s3store.Open(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, envOptions{blobs: blobs})
	data := testJPEG(t, 900, 700, 41)
	p, a := e.create("wang", data, "v-chunked", areaV1)
	if a.status != 201 {
		t.Fatal(a)
	}
	half := len(data) / 2
	for _, part := range []struct{ off, end int }{{0, half}, {half, len(data)}} {
		// io.MultiReader hides the length: net/http sends the body chunked.
		req, err := http.NewRequest("PATCH", e.url+p, io.MultiReader(bytes.NewReader(data[part.off:part.end])))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Authorization", "Bearer "+e.token("wang"))
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		req.Header.Set("Upload-Offset", fmt.Sprint(part.off))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 204 || resp.Header.Get("Upload-Offset") != fmt.Sprint(part.end) {
			t.Fatalf("chunked PATCH at %d: %d %s (offset %q)", part.off, resp.StatusCode, body, resp.Header.Get("Upload-Offset"))
		}
	}
	if b := e.waitBlob(hexSHA(data)); b == nil {
		t.Fatal("the upload's blob was not stored")
	}
}

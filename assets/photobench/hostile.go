package photobench

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/ruhu-dev/ruhu/assets/photo"
)

// HostilePNGs returns one valid w×h 16-bit RGBA PNG per seed, each almost
// all one colour, so it is tiny on the wire (a 7000×7000 one is 381 KB)
// and huge once decoded (8 bytes a pixel: 392 MB): the probe of issue 10
// that took the server from 84 MB to 907 MB resident. The seed goes into a
// text chunk, so seeds give different blobs with the same pixels. Rows are
// compressed as they are made: generating holds one row, never the image.
func HostilePNGs(w, h int, seeds ...uint64) ([][]byte, error) {
	var head bytes.Buffer
	head.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 16, 6 // bit depth 16, colour type RGBA
	writeChunk(&head, "IHDR", ihdr)

	var idat bytes.Buffer
	zw := zlib.NewWriter(&idat)
	row := make([]byte, 1+w*8) // filter byte 0, then pixels
	for range h {
		if _, err := zw.Write(row); err != nil {
			return nil, fmt.Errorf("hostile png: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("hostile png: %w", err)
	}
	writeChunk(&head, "IDAT", idat.Bytes())
	out := make([][]byte, len(seeds))
	for i, seed := range seeds {
		var b bytes.Buffer
		b.Write(head.Bytes())
		writeChunk(&b, "tEXt", fmt.Appendf(nil, "Comment\x00probe %d", seed))
		writeChunk(&b, "IEND", nil)
		out[i] = b.Bytes()
	}
	return out, nil
}

// HostilePeakRSSMB processes two HostilePNGs of 7000×7000 back to back
// (both in flight at once) through one Processor with two workers and
// opts, as the server's upload pipeline does, and returns the process's
// peak resident set (VmHWM, MiB) while they are processed. The generator's
// memory is released and the high-water mark reset first. Refusals are the
// expected outcome under a memory budget and are not errors. Linux only; 0
// elsewhere.
func HostilePeakRSSMB(ctx context.Context, opts photo.Options) (float64, error) {
	pngs, err := HostilePNGs(7000, 7000, 1, 2)
	if err != nil {
		return 0, err
	}
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	proc := photo.NewProcessor(opts, 2)
	var wg sync.WaitGroup
	for i, data := range pngs {
		wg.Go(func() { _, _ = proc.Process(ctx, fmt.Sprint("hostile-", i), data) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("hostile pngs: %w", err)
	}
	peak, err := PeakRSSMB()
	if err != nil {
		return 0, nil
	}
	return peak, nil
}

func writeChunk(out *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	out.Write(n[:])
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	out.WriteString(typ)
	out.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	out.Write(n[:])
}

package photo_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/assets/photo"
	"github.com/ruhu-dev/ruhu/assets/photobench"
)

func TestBudgetWaitsAndRefuses(t *testing.T) {
	b := photo.NewBudget(100)
	if err := b.Acquire(t.Context(), 101); !errors.Is(err, photo.ErrOverBudget) || !errors.Is(err, photo.ErrTooManyPixels) {
		t.Fatalf("over the whole budget: %v", err)
	}
	if err := b.Acquire(t.Context(), 70); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Acquire(context.Background(), 50) }()
	select {
	case err := <-got:
		t.Fatalf("acquired 50 of the 30 left: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	// A later small request waits behind the large one (no starvation).
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := b.Acquire(ctx, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("small request jumped the queue: %v", err)
	}
	b.Release(70)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	b.Release(50)
}

// TestDecodeCostCountsBytesNotPixels: the same pixel count costs by the
// decoded format.
func TestDecodeCostCountsBytesNotPixels(t *testing.T) {
	encPNG := func(img image.Image) []byte {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	r := image.Rect(0, 0, 1000, 1000)
	gray := encPNG(image.NewGray(r))
	rgba64 := encPNG(image.NewNRGBA64(r))
	baseline, err := photobench.JPEG(1000, 1000, 1, 80)
	if err != nil {
		t.Fatal(err)
	}
	var prog bytes.Buffer // the standard encoder writes baseline only: flip SOF0 to SOF2
	prog.Write(baseline)
	p := prog.Bytes()
	for i := 2; i+1 < len(p); i++ {
		if p[i] == 0xFF && p[i+1] == 0xC0 {
			p[i+1] = 0xC2
			break
		}
	}
	cost := func(data []byte) int64 {
		f, cfg, err := photo.Check(data, photo.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return photo.DecodeCost(f, cfg, data, photo.Options{})
	}
	const work = 8 * 1_000_000 // two reduced working copies at k=1
	for name, tc := range map[string]struct {
		data []byte
		want int64
	}{
		"8-bit grey PNG":         {gray, 1_000_000 + work},
		"16-bit RGBA PNG":        {rgba64, 8_000_000 + work},
		"4:2:0 JPEG":             {baseline, 1_500_000 + work},
		"progressive 4:2:0 JPEG": {p, 1_500_000 + 6_000_000 + work},
	} {
		if got := cost(tc.data); got != tc.want {
			t.Errorf("%s: cost %d, want %d", name, got, tc.want)
		}
	}
	// Sanity: jpeg really is 4:2:0 here.
	img, err := jpeg.Decode(bytes.NewReader(baseline))
	if err != nil {
		t.Fatal(err)
	}
	if y, ok := img.(*image.YCbCr); !ok || y.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		t.Fatalf("fixture is %T", img)
	}
}

// TestProcessorRefusesOverBudget: an image whose decode needs more than
// the whole budget fails fast; one that fits is processed.
func TestProcessorRefusesOverBudget(t *testing.T) {
	pngs, err := photobench.HostilePNGs(2000, 2000, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := photo.NewProcessor(photo.Options{MemoryBudget: 16 << 20}, 2)
	if _, err := p.Process(t.Context(), "big", pngs[0]); !errors.Is(err, photo.ErrOverBudget) {
		t.Fatalf("2000×2000 16-bit PNG (32 MB decoded) under a 16 MiB budget: %v", err)
	}
	small, err := photobench.JPEG(640, 480, 2, 80)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Process(t.Context(), "small", small); err != nil {
		t.Fatalf("small JPEG: %v", err)
	}
	if _, err := photo.NewProcessor(photo.Options{}, 2).Process(t.Context(), "big", pngs[0]); err != nil {
		t.Fatalf("the same PNG under the default budget: %v", err)
	}
}

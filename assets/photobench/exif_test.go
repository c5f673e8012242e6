package photobench_test

import (
	"bytes"
	"image/jpeg"
	"math"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/assets/photo"
	"github.com/ruhu-dev/ruhu/assets/photobench"
)

func TestWithEXIFReadsBack(t *testing.T) {
	plain, err := photobench.JPEG(64, 48, 1, 80)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		orientation uint16
		dateTime    string
		lat, lon    [3][2]uint32
		wantTaken   time.Time
		wantLat     float64
		wantLon     float64
	}{
		{"upright, Shanghai", 1, "2024:03:05 14:30:00", [3][2]uint32{{31, 1}, {13, 1}, {456, 10}}, [3][2]uint32{{121, 1}, {28, 1}, {30, 1}},
			time.Date(2024, 3, 5, 6, 30, 0, 0, time.UTC), 31 + 13.0/60 + 45.6/3600, 121 + 28.0/60 + 30.0/3600},
		{"rotated, Hefei", 6, "2026:02:10 10:03:00", [3][2]uint32{{31, 1}, {42, 1}, {0, 1}}, [3][2]uint32{{117, 1}, {6, 1}, {0, 1}},
			time.Date(2026, 2, 10, 2, 3, 0, 0, time.UTC), 31.7, 117.1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := photobench.WithEXIF(plain, tc.orientation, tc.dateTime, tc.lat, tc.lon)
			if !bytes.Equal(data[:2], plain[:2]) || !bytes.Equal(data[len(data)-len(plain)+2:], plain[2:]) {
				t.Fatal("the segment is not inserted right after SOI, leaving the rest as it was")
			}
			if img, err := jpeg.Decode(bytes.NewReader(data)); err != nil || img.Bounds().Dx() != 64 {
				t.Fatalf("decode: %v", err)
			}
			md := photo.ReadMetadata(data, nil)
			if md.Orientation != int(tc.orientation) || !md.TakenAt.Equal(tc.wantTaken) {
				t.Errorf("orientation %d taken %v; want %d %v", md.Orientation, md.TakenAt, tc.orientation, tc.wantTaken)
			}
			if !md.HasGPS || math.Abs(md.Lat-tc.wantLat) > 1e-9 || math.Abs(md.Lon-tc.wantLon) > 1e-9 {
				t.Errorf("GPS %v %f,%f; want %f,%f", md.HasGPS, md.Lat, md.Lon, tc.wantLat, tc.wantLon)
			}
		})
	}
}

func TestWithEXIFRefusesADateTimeThatDoesNotFit(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a 10-byte dateTime was accepted")
		}
	}()
	photobench.WithEXIF([]byte{0xFF, 0xD8, 0xFF, 0xD9}, 1, "2024:03:05", [3][2]uint32{}, [3][2]uint32{})
}

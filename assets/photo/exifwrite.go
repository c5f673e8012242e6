package photo

import (
	"encoding/binary"
	"math"
	"time"
)

// appendAPP1 builds a minimal JPEG APP1 EXIF segment carrying md: the
// orientation when not 1, DateTimeOriginal with its UTC offset, and the
// GPS position and time. Evidence copies carry it so the server can run the
// time and place checks before the original arrives; at about 300 bytes it
// costs nothing on 2G, unlike a camera's 20–60 KB of maker notes and
// embedded thumbnail. Returns nil when there is nothing to carry.
func appendAPP1(md Metadata) []byte {
	if md.Orientation <= 1 && md.TakenAt.IsZero() && !md.HasGPS && md.GPSTime.IsZero() {
		return nil
	}
	var ifd0, exif, gps []tiffField
	if md.Orientation > 1 && md.Orientation <= 8 {
		ifd0 = append(ifd0, shortField(tagOrientation, uint16(md.Orientation)))
	}
	if !md.TakenAt.IsZero() {
		exif = append(exif,
			asciiField(tagDateTimeOriginal, md.TakenAt.Format("2006:01:02 15:04:05")),
			asciiField(tagOffsetTimeOriginal, md.TakenAt.Format("-07:00")))
	}
	if md.HasGPS {
		latRef, lonRef := "N", "E"
		if md.Lat < 0 {
			latRef = "S"
		}
		if md.Lon < 0 {
			lonRef = "W"
		}
		gps = append(gps,
			asciiField(tagGPSLatitudeRef, latRef),
			rationalField(tagGPSLatitude, degreesMinutesSeconds(math.Abs(md.Lat))),
			asciiField(tagGPSLongitudeRef, lonRef),
			rationalField(tagGPSLongitude, degreesMinutesSeconds(math.Abs(md.Lon))))
	}
	if !md.GPSTime.IsZero() {
		t := md.GPSTime.UTC()
		gps = append(gps,
			rationalField(tagGPSTimeStamp, [][2]uint32{{uint32(t.Hour()), 1}, {uint32(t.Minute()), 1}, {uint32(t.Second()), 1}}),
			asciiField(tagGPSDateStamp, t.Format("2006:01:02")))
	}

	w := &tiffWriter{}
	w.b = append(w.b, "II*\x00"...)
	w.b = binary.LittleEndian.AppendUint32(w.b, 8)
	// IFD0 holds pointers to the sub-IFDs; their offsets are patched once
	// the sub-IFDs are placed.
	var exifPtr, gpsPtr int
	if len(exif) > 0 {
		ifd0 = append(ifd0, longField(tagExifIFD, 0))
	}
	if len(gps) > 0 {
		ifd0 = append(ifd0, longField(tagGPSIFD, 0))
	}
	slots := w.writeIFD(ifd0)
	if len(exif) > 0 {
		exifPtr = slots[tagExifIFD]
		binary.LittleEndian.PutUint32(w.b[exifPtr:], uint32(len(w.b)))
		w.writeIFD(exif)
	}
	if len(gps) > 0 {
		gpsPtr = slots[tagGPSIFD]
		binary.LittleEndian.PutUint32(w.b[gpsPtr:], uint32(len(w.b)))
		w.writeIFD(gps)
	}

	seg := []byte{0xFF, 0xE1, 0, 0}
	seg = append(seg, "Exif\x00\x00"...)
	seg = append(seg, w.b...)
	binary.BigEndian.PutUint16(seg[2:], uint16(len(seg)-2))
	return seg
}

type tiffField struct {
	tag, typ uint16
	count    uint32
	data     []byte // little-endian value bytes
}

func shortField(tag, v uint16) tiffField {
	return tiffField{tag, typeShort, 1, binary.LittleEndian.AppendUint16(nil, v)}
}

func longField(tag uint16, v uint32) tiffField {
	return tiffField{tag, typeLong, 1, binary.LittleEndian.AppendUint32(nil, v)}
}

func asciiField(tag uint16, s string) tiffField {
	b := append([]byte(s), 0)
	return tiffField{tag, typeASCII, uint32(len(b)), b}
}

func rationalField(tag uint16, rs [][2]uint32) tiffField {
	var b []byte
	for _, r := range rs {
		b = binary.LittleEndian.AppendUint32(b, r[0])
		b = binary.LittleEndian.AppendUint32(b, r[1])
	}
	return tiffField{tag, typeRational, uint32(len(rs)), b}
}

// degreesMinutesSeconds splits a coordinate with seconds to 1/10000, about
// 3 mm: finer than any phone's fix.
func degreesMinutesSeconds(v float64) [][2]uint32 {
	deg := math.Floor(v)
	minutes := math.Floor((v - deg) * 60)
	secs := (v - deg - minutes/60) * 3600
	return [][2]uint32{{uint32(deg), 1}, {uint32(minutes), 1}, {uint32(math.Round(secs * 10000)), 10000}}
}

type tiffWriter struct{ b []byte }

// writeIFD appends an IFD with its out-of-line values after it and
// returns, per tag, the position of its 4-byte value slot.
func (w *tiffWriter) writeIFD(fields []tiffField) map[uint16]int {
	start := len(w.b)
	dataAt := start + 2 + 12*len(fields) + 4
	w.b = binary.LittleEndian.AppendUint16(w.b, uint16(len(fields)))
	slots := make(map[uint16]int, len(fields))
	var extra []byte
	for _, f := range fields {
		w.b = binary.LittleEndian.AppendUint16(w.b, f.tag)
		w.b = binary.LittleEndian.AppendUint16(w.b, f.typ)
		w.b = binary.LittleEndian.AppendUint32(w.b, f.count)
		slots[f.tag] = len(w.b)
		if len(f.data) <= 4 {
			var v [4]byte
			copy(v[:], f.data)
			w.b = append(w.b, v[:]...)
			continue
		}
		w.b = binary.LittleEndian.AppendUint32(w.b, uint32(dataAt+len(extra)))
		extra = append(extra, f.data...)
		if len(extra)%2 == 1 {
			extra = append(extra, 0) // TIFF values start on word boundaries
		}
	}
	w.b = binary.LittleEndian.AppendUint32(w.b, 0) // no next IFD
	w.b = append(w.b, extra...)
	return slots
}

// evidenceMeta keeps what the evidence checks use; orientation is dropped
// because the pixels are already upright.
func evidenceMeta(md Metadata) Metadata {
	md.Orientation = 1
	if !md.TakenAt.IsZero() {
		md.TakenAt = md.TakenAt.Round(time.Second)
	}
	return md
}

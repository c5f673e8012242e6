package photo

import (
	"encoding/binary"
	"math"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/chinatime"
)

// Metadata is what the evidence checks need from a photo's EXIF. Absent
// EXIF, or absent fields, leave zero values: not an error.
type Metadata struct {
	// Orientation is the EXIF orientation, 1 to 8; 1 (upright) when absent
	// or out of range.
	Orientation int
	// TakenAt is DateTimeOriginal (else DateTimeDigitized). Cameras write
	// local wall time; it is read in OffsetTimeOriginal when the camera
	// wrote one, else in the location the caller gives. Zero when absent.
	TakenAt time.Time
	// HasGPS reports whether Lat and Lon hold a position (WGS-84 degrees,
	// south and west negative). A 0,0 fix is treated as absent: cameras
	// write it when they have no fix, and it is in the Gulf of Guinea.
	HasGPS   bool
	Lat, Lon float64
	// GPSTime is the satellite time of the fix (UTC), independent of the
	// device clock. Zero when absent.
	GPSTime time.Time
}

// TIFF tags read by ReadMetadata.
const (
	tagOrientation        = 0x0112
	tagExifIFD            = 0x8769
	tagGPSIFD             = 0x8825
	tagDateTimeOriginal   = 0x9003
	tagDateTimeDigitized  = 0x9004
	tagOffsetTimeOriginal = 0x9011
	tagGPSLatitudeRef     = 0x0001
	tagGPSLatitude        = 0x0002
	tagGPSLongitudeRef    = 0x0003
	tagGPSLongitude       = 0x0004
	tagGPSTimeStamp       = 0x0007
	tagGPSDateStamp       = 0x001D
)

// TIFF field types.
const (
	typeByte      = 1
	typeASCII     = 2
	typeShort     = 3
	typeLong      = 4
	typeRational  = 5
	typeUndefined = 7
	typeSLong     = 9
	typeSRational = 10
)

var typeSize = map[uint16]uint32{
	typeByte: 1, typeASCII: 1, typeShort: 2, typeLong: 4, typeRational: 8,
	typeUndefined: 1, typeSLong: 4, typeSRational: 8,
}

// ReadMetadata extracts orientation, capture time and GPS from the EXIF of
// a JPEG (APP1) or PNG (eXIf chunk), reading local times in loc (nil means
// China Standard Time, see Options.Location). It never decodes pixels.
// Missing or malformed EXIF yields the zero Metadata (Orientation 1), not
// an error: a photo without EXIF is still evidence, just weaker.
func ReadMetadata(data []byte, loc *time.Location) Metadata {
	if loc == nil {
		loc = chinatime.Zone()
	}
	md := Metadata{Orientation: 1}
	var tiff []byte
	switch f, _ := Sniff(data); f {
	case JPEG:
		tiff = jpegEXIF(data)
	case PNG:
		tiff = pngEXIF(data)
	}
	if tiff == nil {
		return md
	}
	parseTIFF(tiff, loc, &md)
	return md
}

// jpegEXIF walks the JPEG marker segments up to the start of scan and
// returns the TIFF block of the first APP1 "Exif" segment, or nil.
func jpegEXIF(data []byte) []byte {
	i := 2 // after SOI
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return nil
		}
		marker := data[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7):
			i += 2 // markers without a length
			continue
		case marker == 0xDA || marker == 0xD9: // start of scan, end of image
			return nil
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return nil
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xE1 && len(seg) > 6 && string(seg[:6]) == "Exif\x00\x00" {
			return seg[6:]
		}
		i += 2 + n
	}
	return nil
}

// pngEXIF returns the body of the eXIf chunk (a TIFF block), or nil. It
// stops at the first IDAT: the PNG 1.5 extension requires eXIf before it.
func pngEXIF(data []byte) []byte {
	i := len(pngSignature)
	for i+8 <= len(data) {
		n := binary.BigEndian.Uint32(data[i:])
		typ := string(data[i+4 : i+8])
		if uint64(i)+12+uint64(n) > uint64(len(data)) {
			return nil
		}
		body := data[i+8 : i+8+int(n)]
		switch typ {
		case "eXIf":
			return body
		case "IDAT", "IEND":
			return nil
		}
		i += 12 + int(n)
	}
	return nil
}

// tiffReader reads IFD entries from a TIFF block with bounds checks on
// every access; malformed input ends in "absent", never a panic.
type tiffReader struct {
	b     []byte
	order binary.ByteOrder
}

type ifdEntry struct {
	tag   uint16
	typ   uint16
	count uint32
	value []byte // the value bytes (inline or at the offset), nil if out of bounds
}

func (t tiffReader) ifd(off uint32) map[uint16]ifdEntry {
	if uint64(off)+2 > uint64(len(t.b)) {
		return nil
	}
	n := int(t.order.Uint16(t.b[off:]))
	entries := make(map[uint16]ifdEntry, min(n, 64))
	for k := range n {
		p := uint64(off) + 2 + uint64(k)*12
		if p+12 > uint64(len(t.b)) {
			break
		}
		e := ifdEntry{
			tag:   t.order.Uint16(t.b[p:]),
			typ:   t.order.Uint16(t.b[p+2:]),
			count: t.order.Uint32(t.b[p+4:]),
		}
		size, ok := typeSize[e.typ]
		if !ok {
			continue
		}
		total := uint64(size) * uint64(e.count)
		if total <= 4 {
			e.value = t.b[p+8 : p+8+total]
		} else if vo := uint64(t.order.Uint32(t.b[p+8:])); vo+total <= uint64(len(t.b)) {
			e.value = t.b[vo : vo+total]
		}
		if e.value != nil {
			entries[e.tag] = e
		}
	}
	return entries
}

func (t tiffReader) uint(e ifdEntry, ok bool) (uint32, bool) {
	if !ok || e.count < 1 {
		return 0, false
	}
	switch e.typ {
	case typeShort:
		return uint32(t.order.Uint16(e.value)), true
	case typeLong:
		return t.order.Uint32(e.value), true
	}
	return 0, false
}

func (t tiffReader) ascii(e ifdEntry, ok bool) string {
	if !ok || (e.typ != typeASCII && e.typ != typeUndefined) {
		return ""
	}
	s, _, _ := strings.Cut(string(e.value), "\x00")
	return strings.TrimSpace(s)
}

// rational3 returns the first three unsigned rationals of e (degrees,
// minutes, seconds or hours, minutes, seconds) as float64s.
func (t tiffReader) rational3(e ifdEntry, ok bool) ([3]float64, bool) {
	var out [3]float64
	if !ok || e.typ != typeRational || e.count < 3 {
		return out, false
	}
	for i := range out {
		num := t.order.Uint32(e.value[i*8:])
		den := t.order.Uint32(e.value[i*8+4:])
		if den == 0 {
			return out, false
		}
		out[i] = float64(num) / float64(den)
	}
	return out, true
}

func parseTIFF(b []byte, loc *time.Location, md *Metadata) {
	if len(b) < 8 {
		return
	}
	var t tiffReader
	switch string(b[:4]) {
	case "II*\x00":
		t = tiffReader{b, binary.LittleEndian}
	case "MM\x00*":
		t = tiffReader{b, binary.BigEndian}
	default:
		return
	}
	ifd0 := t.ifd(t.order.Uint32(b[4:]))
	if v, ok := t.uint(entry(ifd0, tagOrientation)); ok && v >= 1 && v <= 8 {
		md.Orientation = int(v)
	}
	if off, ok := t.uint(entry(ifd0, tagExifIFD)); ok {
		exif := t.ifd(off)
		raw := t.ascii(entry(exif, tagDateTimeOriginal))
		if raw == "" {
			raw = t.ascii(entry(exif, tagDateTimeDigitized))
		}
		md.TakenAt = parseEXIFTime(raw, t.ascii(entry(exif, tagOffsetTimeOriginal)), loc)
	}
	if off, ok := t.uint(entry(ifd0, tagGPSIFD)); ok {
		gps := t.ifd(off)
		lat, okLat := t.coordinate(gps, tagGPSLatitude, tagGPSLatitudeRef, "S", 90)
		lon, okLon := t.coordinate(gps, tagGPSLongitude, tagGPSLongitudeRef, "W", 180)
		if okLat && okLon && (lat != 0 || lon != 0) {
			md.HasGPS, md.Lat, md.Lon = true, lat, lon
		}
		md.GPSTime = t.gpsTime(gps)
	}
}

func entry(ifd map[uint16]ifdEntry, tag uint16) (ifdEntry, bool) {
	e, ok := ifd[tag]
	return e, ok
}

// coordinate reads degrees, minutes, seconds and the hemisphere reference.
func (t tiffReader) coordinate(gps map[uint16]ifdEntry, tag, refTag uint16, negative string, limit float64) (float64, bool) {
	dms, ok := t.rational3(entry(gps, tag))
	if !ok {
		return 0, false
	}
	v := dms[0] + dms[1]/60 + dms[2]/3600
	if strings.EqualFold(t.ascii(entry(gps, refTag)), negative) {
		v = -v
	}
	if math.IsNaN(v) || math.Abs(v) > limit {
		return 0, false
	}
	return v, true
}

func (t tiffReader) gpsTime(gps map[uint16]ifdEntry) time.Time {
	hms, ok := t.rational3(entry(gps, tagGPSTimeStamp))
	if !ok {
		return time.Time{}
	}
	day, err := time.Parse("2006:01:02", t.ascii(entry(gps, tagGPSDateStamp)))
	if err != nil || hms[0] >= 24 || hms[1] >= 60 || hms[2] >= 61 {
		return time.Time{}
	}
	secs := hms[0]*3600 + hms[1]*60 + hms[2]
	return day.Add(time.Duration(secs * float64(time.Second))).UTC()
}

// parseEXIFTime reads "2006:01:02 15:04:05" in the camera's offset when it
// wrote one ("+08:00"), else in loc. Blank or zeroed times are absent.
func parseEXIFTime(raw, offset string, loc *time.Location) time.Time {
	if raw == "" || strings.HasPrefix(raw, "0000") {
		return time.Time{}
	}
	if offset != "" {
		if t, err := time.Parse("2006:01:02 15:04:05-07:00", raw+offset); err == nil {
			return t
		}
	}
	t, err := time.ParseInLocation("2006:01:02 15:04:05", raw, loc)
	if err != nil {
		return time.Time{}
	}
	return t
}

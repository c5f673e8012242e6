package photobench

import (
	"encoding/binary"
	"fmt"
)

// WithEXIF returns jpg with an APP1 EXIF segment inserted right after its
// SOI marker, as a camera would write it: IFD0 {Orientation, ExifIFD,
// GPSIFD}, an Exif IFD {DateTimeOriginal} and a GPS IFD {N/E refs, lat,
// lon}. lat and lon are degrees, minutes and seconds as EXIF rationals
// (numerator, denominator), e.g. {{31, 1}, {13, 1}, {456, 10}} for
// 31°13'45.6". dateTime is the EXIF wall time "2006:01:02 15:04:05"
// (19 bytes; other lengths do not fit the layout and panic).
//
// The segment is built byte by byte, big-endian ("MM", as many cameras
// write), independently of assets/photo's little-endian writer, so tests of
// the EXIF reader do not check the writer against itself. Offsets count
// from the TIFF header:
//
//	0   header (8)
//	8   IFD0: count(2) + 3×12 + next(4) = 42  -> ends at 50
//	50  Exif IFD: 2 + 1×12 + 4 = 18          -> ends at 68
//	68  DateTimeOriginal value, 20 bytes      -> ends at 88
//	88  GPS IFD: 2 + 4×12 + 4 = 54           -> ends at 142
//	142 latitude 3 rationals (24)             -> ends at 166
//	166 longitude 3 rationals (24)            -> ends at 190
func WithEXIF(jpg []byte, orientation uint16, dateTime string, lat, lon [3][2]uint32) []byte {
	if len(dateTime) != 19 {
		panic(fmt.Sprintf("photobench.WithEXIF: dateTime %q is not of the form 2006:01:02 15:04:05", dateTime))
	}
	be := binary.BigEndian
	var b []byte
	u16 := func(v uint16) { b = be.AppendUint16(b, v) }
	u32 := func(v uint32) { b = be.AppendUint32(b, v) }
	entry := func(tag, typ uint16, count, value uint32) { u16(tag); u16(typ); u32(count); u32(value) }

	b = append(b, 'M', 'M', 0, 42)
	u32(8)
	u16(3)
	entry(0x0112, 3, 1, uint32(orientation)<<16) // SHORT, left-justified in the slot
	entry(0x8769, 4, 1, 50)
	entry(0x8825, 4, 1, 88)
	u32(0)
	u16(1)
	entry(0x9003, 2, 20, 68)
	u32(0)
	b = append(b, dateTime...)
	b = append(b, 0)
	u16(4)
	entry(0x0001, 2, 2, uint32('N')<<24)
	entry(0x0002, 5, 3, 142)
	entry(0x0003, 2, 2, uint32('E')<<24)
	entry(0x0004, 5, 3, 166)
	u32(0)
	for _, r := range append(lat[:], lon[:]...) {
		u32(r[0])
		u32(r[1])
	}
	seg := []byte{0xFF, 0xE1, 0, 0}
	seg = append(seg, "Exif\x00\x00"...)
	seg = append(seg, b...)
	be.PutUint16(seg[2:], uint16(len(seg)-2))

	out := make([]byte, 0, len(jpg)+len(seg))
	out = append(out, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

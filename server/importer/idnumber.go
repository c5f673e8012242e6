package importer

import (
	"errors"
	"strings"
	"time"
)

// IDNumber is a resident identity number (居民身份证号码). Its String,
// GoString (so fmt's %v, %s, %q and %#v) and text/JSON encodings show it masked,
// so a Household can be logged safely; Full returns the real value for
// storage (encrypted at rest by its owner).
type IDNumber string

// Full returns the whole identity number.
func (n IDNumber) Full() string { return string(n) }

// String returns the masked identity number.
func (n IDNumber) String() string { return MaskIDNumber(string(n)) }

// GoString returns the masked identity number, for %#v.
func (n IDNumber) GoString() string { return `"` + MaskIDNumber(string(n)) + `"` }

// MarshalText returns the masked identity number: encoding a Household as
// JSON never leaks it.
func (n IDNumber) MarshalText() ([]byte, error) { return []byte(MaskIDNumber(string(n))), nil }

// MaskIDNumber masks an identity number for display: the first 6
// characters (the issuing area), eight asterisks, and the last 4. Anything
// shorter than 10 characters is masked entirely.
func MaskIDNumber(id string) string {
	if len(id) < 10 {
		return "********"
	}
	return id[:6] + "********" + id[len(id)-4:]
}

// Identity number errors returned (wrapped) by ValidateIDNumber.
var (
	ErrIDFormat    = errors.New("identity number must be 17 digits and a digit or X")
	ErrIDChecksum  = errors.New("identity number check digit is wrong")
	ErrIDBirthDate = errors.New("identity number holds an impossible birth date")
)

const idCheckChars = "10X98765432"

// IDCheckChar returns the GB 11643 check character (mod 11-2) for the
// first 17 digits of an identity number, or 0 if they are not 17 digits.
func IDCheckChar(first17 string) byte {
	if len(first17) != 17 {
		return 0
	}
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0
		}
		sum += int(c-'0') * weights[i]
	}
	return idCheckChars[sum%11]
}

// NormalizeIDNumber trims spaces and upper-cases a trailing x.
func NormalizeIDNumber(s string) string {
	return strings.ToUpper(strings.TrimSpace(s))
}

// ValidateIDNumber checks an 18-character identity number (normalised):
// format, birth date (a real date, years 1900..2100) and GB 11643 check
// digit. It returns ErrIDFormat, ErrIDBirthDate or ErrIDChecksum.
func ValidateIDNumber(id string) error {
	if len(id) != 18 {
		return ErrIDFormat
	}
	for i := 0; i < 17; i++ {
		if id[i] < '0' || id[i] > '9' {
			return ErrIDFormat
		}
	}
	if last := id[17]; (last < '0' || last > '9') && last != 'X' {
		return ErrIDFormat
	}
	if !validBirthDate(id[6:14]) {
		return ErrIDBirthDate
	}
	if IDCheckChar(id[:17]) != id[17] {
		return ErrIDChecksum
	}
	return nil
}

func validBirthDate(ymd string) bool {
	y := atoiDigits(ymd[:4])
	m := atoiDigits(ymd[4:6])
	d := atoiDigits(ymd[6:8])
	if y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1 {
		return false
	}
	return d <= time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func atoiDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

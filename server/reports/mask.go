package reports

// MaskIDNumber masks an identity number (身份证号) for display: the first 6
// characters (the issuing area), eight asterisks, and the last 4. Values
// too short to be an identity number are masked entirely.
func MaskIDNumber(id string) string {
	if len(id) < 10 {
		return "********"
	}
	return id[:6] + "********" + id[len(id)-4:]
}

// maskText masks every run in s that looks like an identity number: 17
// digits followed by a digit or X (18 characters), or 15 digits (the old
// format). Text without such a run is returned as is, without allocating.
func maskText(s string) string {
	if len(s) < 15 {
		return s
	}
	var out []byte
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		n := j - i
		if n == 17 && j < len(s) && (s[j] == 'X' || s[j] == 'x') {
			j++
			n++
		}
		if n == 18 || n == 15 {
			if out == nil {
				out = append(make([]byte, 0, len(s)), s[:i]...)
			}
			out = append(out, MaskIDNumber(s[i:j])...)
		} else if out != nil {
			out = append(out, s[i:j]...)
		}
		if j == i { // not a digit: copy one byte
			if out != nil {
				out = append(out, s[j])
			}
			j++
		}
		i = j
	}
	if out == nil {
		return s
	}
	return string(out)
}

func maskAll(list []string) []string {
	var out []string
	for i, s := range list {
		m := maskText(s)
		if m != s && out == nil {
			out = append([]string(nil), list...)
		}
		if out != nil {
			out[i] = m
		}
	}
	if out == nil {
		return list
	}
	return out
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// MaskText masks every run of s that looks like an identity number, as
// every report text is masked (see MaskIDNumber). The console uses it for
// free text it shows beside reports.
func MaskText(s string) string { return maskText(s) }

package schemas

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// shippedPatterns collects every "pattern" in the embedded schema files.
func shippedPatterns(tb testing.TB) []string {
	tb.Helper()
	var patterns []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, sub := range v {
				if p, ok := sub.(string); ok && k == "pattern" {
					patterns = append(patterns, p)
				}
				walk(sub)
			}
		case []any:
			for _, sub := range v {
				walk(sub)
			}
		}
	}
	eachShippedSchema(tb, func(_ string, doc map[string]any) { walk(doc) })
	if len(patterns) < 5 {
		tb.Fatalf("found only %d patterns", len(patterns))
	}
	return patterns
}

// Strings that match or nearly match the shipped patterns.
var patternSamples = []string{
	"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
	"341524105201", "341524105", "34152219850312451X", "341522198503124512", "34152219850312451x",
	"01JC8Z6Q4W3X5M2N7P9R0S1T2V", "tablet-0042", "hh:1.2_3", "-lead", "wang.lei", "wang lei", "张三",
	"0564-7123456", "+86 (138) 0000 0000", "2025-2026", "2025-26", "", " ", "\n", "a\n",
	"\xff", "0\xff", strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("1", 12) + "\n",
}

func TestShippedPatternsUseTheFastPathAndAgreeWithRegexp(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	const alphabet = "0123456789abcdefXxAZ-_.:+() \t\n中\xff"
	for _, p := range shippedPatterns(t) {
		m, err := compilePattern(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if _, fast := m.(*classRuns); !fast {
			t.Errorf("%s: not on the fast path", p)
		}
		if m.String() != p {
			t.Errorf("String() = %q, want %q", m.String(), p)
		}
		re := regexp.MustCompile(p)
		inputs := append([]string(nil), patternSamples...)
		for range 2000 {
			base := patternSamples[rng.IntN(len(patternSamples))]
			b := []byte(base)
			for range rng.IntN(3) { // mutate a valid-looking sample
				if len(b) > 0 && rng.IntN(2) == 0 {
					b[rng.IntN(len(b))] = alphabet[rng.IntN(len(alphabet))]
				} else {
					b = append(b, alphabet[rng.IntN(len(alphabet))])
				}
			}
			inputs = append(inputs, string(b))
		}
		for _, s := range inputs {
			if got, want := m.MatchString(s), re.MatchString(s); got != want {
				t.Fatalf("%s on %q: fast %v, regexp %v", p, s, got, want)
			}
		}
	}
}

func TestOtherPatternsFallBackToRegexp(t *testing.T) {
	for _, p := range []string{
		`abc`,            // unanchored: "contains a match"
		`^[a-z]+[0-9]+$`, // a variable run before the last
		`^(a|bc)$`,       // alternation
		`(?i)^abc$`,      // case folding
		`^[α-ω]{2}$`,     // part of the non-ASCII runes
		`^.{3}$`,         // any character
		`^[0-9]{2}$|^x$`, // top-level alternation
		`^a{2,3}?$`,      // non-greedy
	} {
		m, err := compilePattern(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if _, ok := m.(*regexp.Regexp); !ok {
			t.Errorf("%s: got %T, want *regexp.Regexp", p, m)
		}
	}
	if _, err := compilePattern(`^[0-9`); err == nil {
		t.Error("a broken pattern compiled")
	}
}

func FuzzClassRuns(f *testing.F) {
	patterns := shippedPatterns(f)
	for i, s := range patternSamples {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, s string) {
		p := patterns[int(which)%len(patterns)]
		m, err := compilePattern(p)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := m.MatchString(s), regexp.MustCompile(p).MatchString(s); got != want {
			t.Fatalf("%s on %q: fast %v, regexp %v", p, s, got, want)
		}
	})
}

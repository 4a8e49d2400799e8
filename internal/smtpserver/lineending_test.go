package smtpserver

import "testing"

// bareSlow is the obvious definition hasBareLineEnding must agree with.
func bareSlow(b []byte) bool {
	for i, c := range b {
		switch c {
		case '\r':
			if i+1 == len(b) || b[i+1] != '\n' {
				return true
			}
		case '\n':
			if i == 0 || b[i-1] != '\r' {
				return true
			}
		}
	}
	return false
}

func TestHasBareLineEnding(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"":                false,
		"a":               false,
		"a\r\n":           false,
		"a\r\nb\r\n\r\n":  false,
		"\n":              true,
		"\r":              true,
		"a\nb\r\n":        true,
		"a\r\nb\r":        true,
		"a\r\r\n":         true,
		"a\n\r\n":         true,
		"a\r\n\n":         true,
		"\r\n\r":          true,
		"a\rb\r\n":        true,
		"x\r\n.\r\ny\r\n": false,
	} {
		if got := hasBareLineEnding([]byte(in)); got != want {
			t.Errorf("hasBareLineEnding(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzHasBareLineEnding(f *testing.F) {
	for _, s := range []string{"", "a\r\n", "\r\r\n", "\n\r", "a\rb", "\r\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := hasBareLineEnding(b), bareSlow(b); got != want {
			t.Fatalf("hasBareLineEnding(%q) = %v, want %v", b, got, want)
		}
	})
}

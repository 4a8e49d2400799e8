package message

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// partPreviewWhole is partPreview for plain text as it was before
// asciiPreview: the whole decoded text converted, then collapsed.
func partPreviewWhole(raw []byte, p *Part) string {
	start, end := clamp(raw, p.BodyStart, p.End)
	b, _ := transferDecode(p.Encoding, raw[start:end], previewPlainBytes)
	cut := len(b) > previewPlainBytes
	if cut {
		b = b[:previewPlainBytes]
	}
	s, _ := convert(p.Params["charset"], b)
	if cut {
		s = strings.TrimSuffix(s, "\uFFFD")
	}
	return collapse(s, PreviewRunes)
}

// TestASCIIPreviewAgrees: reading only the ASCII prefix gives the preview
// that converting the whole text gives, over random plain texts mixing
// ASCII, runs of white space and control characters, UTF-8, stray 8-bit
// bytes and zero-width characters, in several charsets and transfer
// encodings, short and past the 4 KB the preview reads.
func TestASCIIPreviewAgrees(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"word ", "x", "Hello, world.", " ", "     ", "\r\n", "\r\n\r\n", "\t", "\x01", "=3D", "é", "\xe9",
		"\u200b", "\ufeff", "日本", "\xff\xfe", strings.Repeat(" ", 300), strings.Repeat("\r\n", 200), strings.Repeat("ab ", 50)}
	charsets := []string{"", "utf-8", "UTF-8", "us-ascii", "iso-8859-1", "windows-1252", "x-bogus", "utf-16"}
	encodings := []string{"7bit", "8bit", "quoted-printable", "base64"}
	var ascii []string
	for _, p := range pieces {
		if isASCII(p) {
			ascii = append(ascii, p)
		}
	}
	fast := 0
	const n = 6000
	for i := range n {
		from := pieces
		if i%2 == 0 {
			// The common case: ASCII text, with or without non-ASCII later.
			from = ascii
		}
		var body strings.Builder
		for size := r.IntN(7000); body.Len() < size; {
			body.WriteString(from[r.IntN(len(from))])
			if r.IntN(50) == 0 {
				from = pieces
			}
		}
		cs, enc := charsets[r.IntN(len(charsets))], encodings[r.IntN(len(encodings))]
		text := body.String()
		if enc == "base64" {
			text = base64Lines(text)
		}
		raw := []byte(fmt.Sprintf("Subject: %d\r\nContent-Type: text/plain; charset=%q\r\nContent-Transfer-Encoding: %s\r\n\r\n%s", i, cs, enc, text))
		p := Parse(raw)
		want := partPreviewWhole(raw, p.Body)
		if got := partPreview(raw, p.Body, false); got != want {
			t.Fatalf("charset %q, %s, body %q:\npreview %q\nwhole   %q", cs, enc, body.String(), got, want)
		}
		start, end := clamp(raw, p.Body.BodyStart, p.Body.End)
		b, _ := transferDecode(p.Body.Encoding, raw[start:end], previewPlainBytes)
		if _, ok := asciiPreview(b, cs); ok {
			fast++
		}
	}
	if fast < n/30 {
		t.Fatalf("the ASCII prefix answered only %d of %d previews", fast, n)
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func base64Lines(s string) string {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var out strings.Builder
	b := []byte(s)
	for i := 0; i < len(b); i += 3 {
		var v uint32
		n := min(3, len(b)-i)
		for j := 0; j < 3; j++ {
			v <<= 8
			if j < n {
				v |= uint32(b[i+j])
			}
		}
		for j := 0; j < 4; j++ {
			if j <= n {
				out.WriteByte(enc[v>>(18-6*j)&63])
			} else {
				out.WriteByte('=')
			}
		}
		if (i/3+1)%19 == 0 {
			out.WriteString("\r\n")
		}
	}
	return out.String()
}

// BenchmarkPreview4KB: the preview of a 4 KB plain text message, computed at
// every delivery.
func BenchmarkPreview4KB(b *testing.B) {
	raw := []byte("Subject: x\r\n\r\n" + strings.Repeat("The quick brown fox jumps over the lazy dog.\r\n", 4096/46))
	p := Parse(raw)
	b.ReportAllocs()
	for b.Loop() {
		partPreview(raw, p.Body, false)
	}
}

package message

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// nastyFiles returns the small hostile messages in testdata/nasty.
func nastyFiles(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "nasty", "*.eml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no nasty corpus: %v", err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

// deepMultipart nests n multipart/mixed levels, each opened and closed.
func deepMultipart(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\ndeepest\r\n")
	for i := n - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.Bytes()
}

// deepMessage nests n message/rfc822 levels.
func deepMessage(n int) []byte {
	return []byte(strings.Repeat("Subject: level\r\nContent-Type: message/rfc822\r\n\r\n", n) + "Subject: last\r\n\r\nbody\r\n")
}

// generatedNasty returns the hostile messages too big to keep in testdata.
func generatedNasty() map[string][]byte {
	var fields bytes.Buffer
	for i := range 10000 {
		fmt.Fprintf(&fields, "X-Field-%d: value %d\r\n", i, i)
	}
	fields.WriteString("Subject: after ten thousand fields\r\n\r\nbody\r\n")

	var parts bytes.Buffer
	parts.WriteString("Content-Type: multipart/mixed; boundary=p\r\n\r\n")
	for range MaxParts + 5000 {
		parts.WriteString("--p\r\n\r\nx\r\n")
	}
	parts.WriteString("--p--\r\n")

	var nestedParts bytes.Buffer
	nestedParts.WriteString("Content-Type: multipart/mixed; boundary=o\r\n\r\n")
	for range 3 {
		nestedParts.WriteString("--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n")
		for range 6000 {
			nestedParts.WriteString("--i\r\n\r\nx\r\n")
		}
		nestedParts.WriteString("--i--\r\n")
	}
	nestedParts.WriteString("--o--\r\n")

	return map[string][]byte{
		"parts-nested-18000":  nestedParts.Bytes(),
		"deep-multipart-100":  deepMultipart(100),
		"deep-message-100":    deepMessage(100),
		"header-line-1MB":     []byte("Subject: " + strings.Repeat("x", 1<<20) + "\r\n\r\nbody\r\n"),
		"body-line-1MB-nolf":  []byte("Subject: x\r\n\r\n" + strings.Repeat("y", 1<<20)),
		"header-fields-10000": fields.Bytes(),
		"parts-15000":         parts.Bytes(),
		"to-5000-addresses":   []byte("To: " + strings.Repeat("a@b, G: c@d;, ", 2500) + "\r\n\r\n"),
		// Quadratic-time traps: every "=?" or "<" must not rescan to the end.
		"subject-1MB-word-starts": []byte("Subject: " + strings.Repeat("=?a?q?x", 1<<20/7) + "?=\r\n\r\n"),
		"to-1MB-open-angles":      []byte("To: " + strings.Repeat("<a,", 1<<20/3) + "\r\n\r\n"),
		"ctype-1MB-params":        []byte("Content-Type: text/plain" + strings.Repeat("; a*0*=%", 1<<20/8) + "\r\n\r\n"),
		"multipart-1MB-near-boundaries": []byte("Content-Type: multipart/mixed; boundary=" + strings.Repeat("-", 60) + "x\r\n\r\n" +
			strings.Repeat("-", 1<<20)),
	}
}

func TestNasty(t *testing.T) {
	t.Parallel()
	all := nastyFiles(t)
	for k, v := range generatedNasty() {
		all[k] = v
	}
	for name, raw := range all {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkInvariants(t, raw, Parse(raw))
		})
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	depth := func(p *Part) int {
		d := 0
		for len(p.Parts) > 0 {
			p = p.Parts[0]
			d++
		}
		return d
	}
	gen := generatedNasty()
	for _, name := range []string{"deep-multipart-100", "deep-message-100"} {
		p := Parse(gen[name])
		if d := depth(p.Body); d != MaxDepth {
			t.Errorf("%s: depth %d, want %d", name, d, MaxDepth)
		}
	}
	// Nesting below the cap keeps every level and reaches the text.
	raw := deepMultipart(MaxDepth - 1)
	p := Parse(raw).Body
	for len(p.Parts) > 0 {
		p = p.Parts[0]
	}
	if got := string(raw[p.BodyStart:p.End]); got != "deepest" {
		t.Errorf("deepest body %q", got)
	}

	count := 0
	Parse(gen["parts-15000"]).Body.Walk(func(*Part) bool { count++; return true })
	if count != MaxParts {
		t.Errorf("parts %d, want %d", count, MaxParts)
	}
	if p := Parse(gen["header-fields-10000"]); p.Envelope.Subject != "after ten thousand fields" {
		t.Errorf("subject %q", p.Envelope.Subject)
	}
	for _, name := range []string{"to-5000-addresses", "to-1MB-open-angles"} {
		to := Parse(gen[name]).Envelope.To
		if len(to) < MaxAddresses || len(to) > MaxAddresses+2 {
			t.Errorf("%s: To has %d entries", name, len(to))
		}
		depth := 0
		for _, a := range to {
			switch {
			case a.Host == "" && a.Mailbox != "":
				depth++
			case a == Address{}:
				depth--
			}
			if depth < 0 || depth > 1 {
				t.Fatalf("%s: unbalanced group markers", name)
			}
		}
		if depth != 0 {
			t.Errorf("%s: group left open", name)
		}
	}
}

func TestNastySpecifics(t *testing.T) {
	t.Parallel()
	files := nastyFiles(t)
	p := Parse(files["header-only-no-newline.eml"])
	if p.Body.BodyStart != p.Body.End || p.Envelope.Subject != "no body and no final newline" {
		t.Errorf("header only: %+v %+v", p.Body, p.Envelope)
	}
	p = Parse(files["8bit-headers.eml"])
	if p.Subject != "café ✓" || p.Envelope.To[0].Name != "Jörg" || p.Body.Params["name"] != "résumé.txt" {
		t.Errorf("8-bit headers: %q %+v %q", p.Subject, p.Envelope.To, p.Body.Params)
	}
	p = Parse(files["message-global.eml"])
	if !p.Body.IsMessage() || p.Body.Envelope.From[0].Mailbox != "é" {
		t.Errorf("message/global: %+v", p.Body)
	}
	p = Parse(files["empty.eml"])
	if p.Body.Type != "text" || p.Body.End != 0 || p.Preview != "" {
		t.Errorf("empty: %+v", p.Body)
	}
}

// FuzzParse checks the package invariants and the Marshal/Unmarshal round
// trip on arbitrary input.
func FuzzParse(f *testing.F) {
	for _, b := range nastyFiles(f) {
		f.Add(b)
	}
	f.Add([]byte(nested))
	f.Add([]byte(strings.ReplaceAll(nested, "\n", "\r\n")))
	f.Add(deepMultipart(70))
	f.Add(deepMessage(70))
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkInvariants(t, raw, Parse(raw))
		// DecodeHeader and the address parser on the raw bytes directly.
		s := string(raw)
		_ = DecodeHeader(s)
		_ = parseAddressList(s)
		_ = parseDate(s)
	})
}

func benchMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("Return-Path: <alice@example.com>\r\n" +
		"Received: from mx.example.com (mx.example.com [192.0.2.1])\r\n\tby mail.example.org with ESMTPS id 1234; Tue, 1 Jul 2003 10:52:40 +0200\r\n" +
		"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=from:to:subject:date;\r\n\tbh=" + strings.Repeat("A", 44) + ";\r\n\tb=" + strings.Repeat("B", 344) + "\r\n" +
		"From: \"Alice Example\" <alice@example.com>\r\nTo: Bob <bob@example.org>, carol@example.net\r\n" +
		"Subject: =?UTF-8?Q?Quarterly_r=C3=A9port?=\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n" +
		"Message-ID: <1234@local.machine.example>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"=_outer\"\r\n\r\n--=_outer\r\n" +
		"Content-Type: multipart/alternative; boundary=\"=_alt\"\r\n\r\n--=_alt\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	for range 12 {
		b.WriteString("Hello Bob, here is the quarterly r=C3=A9port you asked for. Regards=\r\n, Alice.\r\n")
	}
	b.WriteString("--=_alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>")
	for range 12 {
		b.WriteString("<p>Hello Bob, here is the quarterly r&eacute;port you asked for.</p>\r\n")
	}
	b.WriteString("</body></html>\r\n--=_alt--\r\n--=_outer\r\n" +
		"Content-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n")
	line := strings.Repeat("JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVy", 2)[:76] + "\r\n"
	for b.Len() < size-len("--=_outer--\r\n")-len(line) {
		b.WriteString(line)
	}
	b.WriteString("--=_outer--\r\n")
	return b.Bytes()
}

func BenchmarkParse(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		raw := benchMessage(size)
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				Parse(raw)
			}
		})
	}
}

func BenchmarkMarshal(b *testing.B) {
	p := Parse(benchMessage(4 << 10))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(p.Marshal()); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchMessageParses(t *testing.T) {
	t.Parallel()
	for _, size := range []int{4 << 10, 1 << 20} {
		raw := benchMessage(size)
		p := Parse(raw)
		checkInvariants(t, raw, p)
		if len(p.Body.Parts) != 2 || len(p.Body.Parts[0].Parts) != 2 || !strings.HasPrefix(p.Preview, "Hello Bob, here is the quarterly réport") {
			t.Fatalf("bench message parsed wrongly: %+v %q", p.Body, p.Preview)
		}
	}
}

package imapserver_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"gannet/internal/imapserver"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// raw reads a response up to the tagged line of tag, keeping literal
// prefixes ("{n}" or "~{n}" CRLF) and their data as sent.
func (w *wire) raw(tag string) (string, string) {
	w.t.Helper()
	var out strings.Builder
	for {
		l := w.line()
		for strings.HasSuffix(l, "}") {
			i := strings.LastIndexByte(l, '{')
			n, err := strconv.Atoi(strings.TrimSuffix(l[i+1:len(l)-1], "+"))
			if i < 0 || err != nil {
				break
			}
			l = l + "\r\n" + w.readN(n) + w.line()
		}
		if strings.HasPrefix(l, tag+" ") {
			return out.String(), l
		}
		out.WriteString(l + "\r\n")
	}
}

// binaryItem is the expected FETCH text of BINARY[part]<partial> for the
// decoded data, as the server wrote it before it streamed.
func binaryItem(part string, data []byte, partial bool, off, count int) string {
	name := "BINARY[" + part + "]"
	if partial {
		name += "<" + itoa(off) + ">"
		off = min(off, len(data))
		data = data[off : off+min(len(data)-off, count)]
	}
	lit := "{"
	if bytes.IndexByte(data, 0) >= 0 {
		lit = "~{"
	}
	return name + " " + lit + itoa(len(data)) + "}\r\n" + string(data)
}

// TestBinaryFetchGolden: BINARY, BINARY.SIZE and partial BINARY give, part
// for part, what decoding the whole part in memory gave before BINARY
// streamed (imapserver.OldBinaryDecode over the part's BODY[] octets),
// including lenient base64, undecodable quoted-printable and NUL.
func TestBinaryFetchGolden(t *testing.T) {
	t.Parallel()
	parts := []struct{ enc, body string }{
		{"base64", "AAECAwQ="},
		{"base64", "SGVs bG8g\r\nd29y!!bGQ=\r\nQUJD"}, // junk skipped, stops at "="
		{"base64", "QUJDR"},                           // a dangling sextet
		{"base64", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("zero\x00one\x01"), 2000))},
		{"quoted-printable", "caf=C3=A9 soft=\r\nbreak =3D done"},
		{"quoted-printable", "bad \x01 control byte, served raw"},
		{"quoted-printable", strings.Repeat("long line without break ", 300)}, // over bufio's 4 KB line
		{"7bit", "plain text"},
		{"8bit", "caf\xc3\xa9"},
		{"", "no encoding header"},
	}
	var body strings.Builder
	body.WriteString("preamble\n")
	for _, p := range parts {
		body.WriteString("--b1\nContent-Type: application/octet-stream\n")
		if p.enc != "" {
			body.WriteString("Content-Transfer-Encoding: " + p.enc + "\n")
		}
		body.WriteString("\n" + p.body + "\n")
	}
	body.WriteString("--b1--\n")
	e := newEnv(t)
	e.deliver("INBOX", storetest.Msg{ContentType: `multipart/mixed; boundary="b1"`, Body: body.String()})
	w := e.login()
	w.cmd("a SELECT INBOX")
	for i, p := range parts {
		part := itoa(i + 1)
		w.send("r" + part + " FETCH 1 (BODY.PEEK[" + part + "])")
		resp, _ := w.raw("r" + part)
		_, rawBody, ok := strings.Cut(resp, "}\r\n")
		if !ok {
			t.Fatalf("BODY[%s]: %q", part, resp)
		}
		rawBody = strings.TrimSuffix(rawBody, ")\r\n")
		want := imapserver.OldBinaryDecode(p.enc, []byte(rawBody))
		windows := [][2]int{{0, 1}, {0, 1 << 30}, {1, 3}, {len(want) / 2, 7}, {len(want) - 1, 10}, {len(want), 5}, {len(want) + 10, 5}}
		for j, win := range append([][2]int{{-1, -1}}, windows...) {
			tag := "f" + part + "_" + itoa(j)
			item, wantItem := "BINARY.PEEK["+part+"]", binaryItem(part, want, false, 0, 0)
			if win[0] >= 0 {
				item += "<" + itoa(win[0]) + "." + itoa(win[1]) + ">"
				wantItem = binaryItem(part, want, true, win[0], win[1])
			}
			w.send(tag + " FETCH 1 (" + item + " BINARY.SIZE[" + part + "])")
			got, done := w.raw(tag)
			wantResp := "* 1 FETCH (" + wantItem + " BINARY.SIZE[" + part + "] " + itoa(len(want)) + ")\r\n"
			if got != wantResp || !strings.HasPrefix(done, tag+" OK") {
				t.Errorf("part %s (%s) %s:\n got %.200q %q\nwant %.200q", part, p.enc, item, got, done, wantResp)
			}
		}
	}
}

// TestBinaryFetchBigPartStreams: BINARY of a 6 MB base64 attachment is
// byte-exact, in whole and in part, and serving it allocates far less than
// the part (issue 13, finding 2: it was decoded whole, ~25 MB allocated per
// FETCH). Not parallel: it measures the process's allocations, which
// parallel tests would add to.
func TestBinaryFetchBigPartStreams(t *testing.T) {
	const size = 6 << 20
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{3}).Read(data)
	enc := base64.StdEncoding.EncodeToString(data)
	var b64 strings.Builder
	for len(enc) > 76 {
		b64.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	b64.WriteString(enc + "\n")
	e := newEnv(t)
	e.deliver("INBOX", storetest.Msg{
		ContentType: `multipart/mixed; boundary="b1"`,
		Body: "--b1\nContent-Type: text/plain\n\nsee attachment\n" +
			"--b1\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" +
			b64.String() + "--b1--\n",
	})
	w := e.login()
	w.cmd("a SELECT INBOX")
	w.cmd("b FETCH 1 (BINARY.PEEK[2]<0.10>)") // warm up: parse cache, buffers

	// fetch sends item and returns the SHA-256 and length of the one
	// literal in the response, reading it as a stream.
	fetch := func(tag, item string) ([32]byte, int64, string) {
		w.send(tag + " FETCH 1 (" + item + ")")
		head := w.line()
		i := strings.LastIndexByte(head, '{')
		n, err := strconv.ParseInt(strings.TrimSuffix(head[i+1:], "}"), 10, 64)
		if i < 0 || err != nil {
			t.Fatalf("FETCH %s: %q", item, head)
		}
		h := sha256.New()
		w.nc.SetReadDeadline(time.Now().Add(ioWait))
		if _, err := io.CopyN(h, w.r, n); err != nil {
			t.Fatalf("FETCH %s: %v", item, err)
		}
		if rest, done := w.until(tag); len(rest) != 1 || rest[0] != ")" || !strings.HasPrefix(done, tag+" OK") {
			t.Fatalf("FETCH %s: %q %q", item, rest, done)
		}
		return [32]byte(h.Sum(nil)), n, head
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	sum, n, head := fetch("c", "BINARY.PEEK[2]")
	runtime.ReadMemStats(&after)
	if sum != sha256.Sum256(data) || n != size || !strings.HasSuffix(head, "BINARY[2] ~{"+itoa(size)+"}") {
		t.Errorf("BINARY[2]: %d octets, %q; not the attachment", n, head)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("BINARY[2] of a %d MB part allocated %d KB", size>>20, alloc>>10)
	// Decoding the whole part would allocate at least its 6 MB; streaming
	// allocates a window and per-read overhead (on PostgreSQL one query per
	// 256 KiB chunk: about 0.9 MB in all, against 0.5 MB on SQLite).
	if raceEnabled && os.Getenv(testopen.EnvVar) == "postgres" {
		// pgx reads each 256 KiB chunk into a pooled buffer, and under the
		// race detector sync.Pool drops a quarter of what is put back: the
		// figure then counts buffers the pool lost, not what FETCH holds.
		t.Logf("allocation bound not checked: race detector on PostgreSQL")
	} else if alloc > size/4 {
		t.Errorf("BINARY[2] of a %d MB part allocated %d KB, want < %d KB", size>>20, alloc>>10, size/4>>10)
	}

	sum, n, _ = fetch("d", "BINARY.PEEK[2]<3000000.1000000>")
	if sum != sha256.Sum256(data[3000000:4000000]) || n != 1000000 {
		t.Errorf("BINARY[2]<3000000.1000000>: %d octets, not the window", n)
	}
	w.send("e FETCH 1 (BINARY.SIZE[2])")
	if lines, _ := w.until("e"); len(lines) != 1 || lines[0] != "* 1 FETCH (BINARY.SIZE[2] "+itoa(size)+")" {
		t.Errorf("BINARY.SIZE[2]: %q", lines)
	}
}

package imapserver

import (
	"bytes"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"mime/quotedprintable"
	"runtime"
	"testing"
	"testing/iotest"
)

// OldBinaryDecode is how BINARY decoded a part before it streamed (the
// whole part in memory): the reference the streaming decoders are held to.
// Exported for the golden tests in imapserver_test.
func OldBinaryDecode(enc string, raw []byte) []byte {
	switch enc {
	case "base64":
		return oldDecodeBase64(raw)
	case "quoted-printable":
		data, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return raw
		}
		return data
	}
	return raw
}

// oldDecodeBase64 is the former decodeBase64 of fetch_body.go, verbatim.
func oldDecodeBase64(raw []byte) []byte {
	clean := make([]byte, 0, len(raw))
	for _, b := range raw {
		switch {
		case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9', b == '+', b == '/':
			clean = append(clean, b)
		case b == '=':
			goto done
		}
	}
done:
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, _ := base64.RawStdEncoding.Decode(out, clean)
	return out[:n]
}

// TestBase64ReaderGolden: the streaming base64 decoder gives what the old
// whole-part decoder gave, on hand-picked edge cases and random inputs, read
// whole, one octet at a time and in halves.
func TestBase64ReaderGolden(t *testing.T) {
	t.Parallel()
	cases := []string{
		"", "=", "QQ", "QQ==", "QUI", "QUI=", "QUJD", "QUJDRA", "Q", "QUJDR",
		"QUJD\r\nREVG\r\n", "QU JD\tRE!!VG", "QQ==QUJD", "QUJD=REVG", "====",
		"AAAA", "////", "++++", "QUJD\r\n=\r\n", "\x00\xff\x80QUJD",
		base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0, 1, 2, 255}, 5000)),
	}
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n \t!-"
	for range 300 {
		b := make([]byte, rng.IntN(40000))
		for i := range b {
			if rng.IntN(50) == 0 {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[i] = alphabet[rng.IntN(64)]
			}
		}
		cases = append(cases, string(b))
	}
	for i, in := range cases {
		want := oldDecodeBase64([]byte(in))
		for name, wrap := range map[string]func(io.Reader) io.Reader{
			"whole": func(r io.Reader) io.Reader { return r },
			"octet": iotest.OneByteReader,
			"half":  iotest.HalfReader,
		} {
			got, err := io.ReadAll(newBase64Reader(wrap(bytes.NewReader([]byte(in)))))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("case %d (%s, %d octets): got %d octets (%v), want %d", i, name, len(in), len(got), err, len(want))
			}
		}
	}
}

// TestBase64ReaderAllocations: decoding a 6 MB part allocates a fixed few
// buffers, not the part. Not parallel: allocation counts are process-wide
// (AllocsPerRun refuses to run in a parallel test).
func TestBase64ReaderAllocations(t *testing.T) {
	data := make([]byte, 6<<20)
	rand.NewChaCha8([32]byte{2}).Read(data)
	enc := []byte(base64.StdEncoding.EncodeToString(data))
	allocs := testing.AllocsPerRun(3, func() {
		n, err := io.Copy(io.Discard, newBase64Reader(bytes.NewReader(enc)))
		if err != nil || n != int64(len(data)) {
			t.Fatalf("decoded %d octets, %v", n, err)
		}
	})
	if allocs > 5 {
		t.Errorf("%v allocations to stream-decode 6 MB", allocs)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	io.Copy(io.Discard, newBase64Reader(bytes.NewReader(enc)))
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 256<<10 {
		t.Errorf("stream-decoding 6 MB allocated %d KB", n>>10)
	}
}

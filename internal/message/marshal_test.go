package message

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// encodeJSON is Marshal's encoding as it was: encoding/json, no HTML escaping.
func encodeJSON(p *Parsed) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

func checkSameJSON(t *testing.T, name string, p *Parsed) {
	t.Helper()
	want, werr := encodeJSON(p)
	got, gerr := appendParsed(nil, p)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: error %v, encoding/json %v", name, gerr, werr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s:\n got %s\nwant %s", name, got, want)
	}
}

// TestAppendParsedMatchesJSON: the hand encoder writes exactly the bytes
// encoding/json wrote, for every message of the hostile corpus, the
// generated ones, the benchmark message, and parse results filled with
// strings that need escaping (control characters, quotes, invalid UTF-8,
// U+2028/U+2029, HTML characters), empty and nil slices and maps, nil parts
// and dates JSON cannot hold.
func TestAppendParsedMatchesJSON(t *testing.T) {
	t.Parallel()
	for name, raw := range nastyFiles(t) {
		checkSameJSON(t, name, Parse(raw))
	}
	for name, raw := range generatedNasty() {
		checkSameJSON(t, name, Parse(raw))
	}
	checkSameJSON(t, "bench", Parse(benchMessage(4<<10)))
	checkSameJSON(t, "nested", Parse([]byte(nested)))
	checkSameJSON(t, "empty", &Parsed{})
	checkSameJSON(t, "empty part", &Parsed{Body: &Part{Params: map[string]string{}, Language: []string{}, Parts: []*Part{nil}}})

	pieces := []string{"", "a", "é", "\"", "\\", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f", "<>&", "\u2028",
		"\u2029", "\xff", "\xe2\x80", "日本語", "\U0001F600", "=?utf-8?q?x?=", " ", "/"}
	r := rand.New(rand.NewPCG(5, 6))
	str := func() string {
		var sb strings.Builder
		for n := r.IntN(6); n > 0; n-- {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		return sb.String()
	}
	addrs := func() []Address {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return []Address{}
		}
		out := make([]Address, 1+r.IntN(3))
		for i := range out {
			out[i] = Address{Name: str(), Mailbox: str(), Host: str()}
		}
		return out
	}
	env := func() Envelope {
		return Envelope{Date: str(), Subject: str(), From: addrs(), Sender: addrs(), ReplyTo: addrs(), To: addrs(),
			Cc: addrs(), Bcc: addrs(), InReplyTo: str(), MessageID: str()}
	}
	params := func() map[string]string {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return map[string]string{}
		}
		m := map[string]string{}
		for n := 1 + r.IntN(4); n > 0; n-- {
			m[str()] = str()
		}
		return m
	}
	var part func(depth int) *Part
	part = func(depth int) *Part {
		if r.IntN(8) == 0 {
			return nil
		}
		p := &Part{Type: str(), Subtype: str(), Params: params(), ID: str(), Description: str(), Encoding: str(),
			Disposition: str(), DispParams: params(), Location: str(), MD5: str(),
			HeaderStart: r.Int64N(1 << 40), BodyStart: r.Int64() - 1<<62, End: r.Int64(), Lines: int64(r.IntN(3)) - 1}
		if r.IntN(2) == 0 {
			p.Language = []string{str(), str()}
		}
		if depth < 3 && r.IntN(2) == 0 {
			for n := r.IntN(3); n > 0; n-- {
				p.Parts = append(p.Parts, part(depth+1))
			}
		}
		if r.IntN(3) == 0 {
			e := env()
			p.Envelope = &e
		}
		return p
	}
	dates := []time.Time{{}, time.Date(2026, 12, 7, 14, 43, 12, 0, time.UTC),
		time.Date(2003, 7, 1, 10, 52, 37, 123, time.FixedZone("", 2*3600)), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i := range 5000 {
		p := &Parsed{Envelope: env(), Body: part(0), Subject: str(), Date: dates[r.IntN(len(dates))], Preview: str()}
		checkSameJSON(t, "random "+string(rune('a'+i%26)), p)
	}
	// Marshal as a whole, and back.
	p := Parse(benchMessage(4 << 10))
	q, err := Unmarshal(p.Marshal())
	if err != nil || q.Subject != p.Subject || !q.Date.Equal(p.Date) || q.Body.End != p.Body.End {
		t.Fatalf("round trip: %v", err)
	}
}

func FuzzAppendParsed(f *testing.F) {
	for _, b := range nastyFiles(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkSameJSON(t, "fuzz", Parse(raw))
	})
}

// BenchmarkMarshalParsed: the parse results of a 4 KB message as stored at
// every delivery, by the hand encoder and by encoding/json.
func BenchmarkMarshalParsed(b *testing.B) {
	p := Parse(benchMessage(4 << 10))
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.Marshal()
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodeJSON(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package imapwire

import (
	"testing"
	"unicode/utf8"
)

func TestMailboxUTF7(t *testing.T) {
	t.Parallel()
	tests := []struct{ utf8, mutf7 string }{
		{"INBOX", "INBOX"},
		{"", ""},
		// RFC 3501 5.1.3.
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
		{"&", "&-"},
		{"a&b&&", "a&-b&-&-"},
		{"Entwürfe", "Entw&APw-rfe"},
		{"☺!", "&Jjo-!"},
		{"é&é", "&AOk-&-&AOk-"},
		{"😀", "&2D3eAA-"},
		{"a\tb", "a&AAk-b"},
		{"\x00", "&AAA-"},
		{"\uFFFD", "&,,0-"},
		{"Ünïcödé", "&ANw-n&AO8-c&APY-d&AOk-"},
	}
	for _, tt := range tests {
		if got := EncodeMailbox(tt.utf8); got != tt.mutf7 {
			t.Errorf("EncodeMailbox(%q) = %q, want %q", tt.utf8, got, tt.mutf7)
		}
		if got, err := DecodeMailbox(tt.mutf7); got != tt.utf8 || err != nil {
			t.Errorf("DecodeMailbox(%q) = %q, %v, want %q", tt.mutf7, got, err, tt.utf8)
		}
	}
	if got := EncodeMailbox("a\xffb"); got != "a&,,0-b" {
		t.Errorf("invalid UTF-8: %q", got)
	}
	invalid := []string{
		"&",           // unterminated
		"&AOk",        // unterminated
		"a&-&",        // unterminated
		"&AGE-",       // "a" must stand for itself
		"&ACY-",       // so must "&"
		"&AOk-&AOk-",  // two shifted runs in a row
		"&AOl-",       // non-zero padding bits
		"&AOkA-",      // a whole 6-bit group left over
		"&2D0-",       // unpaired high surrogate
		"&3gA-",       // unpaired low surrogate
		"&2D3YPQ-",    // high surrogate then a high surrogate
		"&Jjo=-",      // "=" is not modified BASE64
		"&/w-",        // neither is "/"
		"caf\xc3\xa9", // raw 8-bit
		"a\tb",        // raw control
		"a\x7fb",      // raw DEL
	}
	for _, m := range invalid {
		if got, err := DecodeMailbox(m); err == nil {
			t.Errorf("DecodeMailbox(%q) = %q, want error", m, got)
		}
	}
}

func FuzzMailboxUTF7(f *testing.F) {
	for _, s := range []string{"INBOX", "~peter/mail/&U,BTFw-/&ZeVnLIqe-", "&-", "&2D3eAA-", "&AOk-&-&AOk-", "Entwürfe", "&AGE-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Any decodable name is canonical: it encodes back to itself.
		if d, err := DecodeMailbox(s); err == nil {
			if !utf8.ValidString(d) {
				t.Fatalf("DecodeMailbox(%q) = %q, not UTF-8", s, d)
			}
			if e := EncodeMailbox(d); e != s {
				t.Fatalf("EncodeMailbox(DecodeMailbox(%q)) = %q", s, e)
			}
		}
		// Any UTF-8 name round-trips through its encoding.
		if utf8.ValidString(s) {
			e := EncodeMailbox(s)
			for i := 0; i < len(e); i++ {
				if e[i] < 0x20 || e[i] > 0x7e {
					t.Fatalf("EncodeMailbox(%q) = %q, not printable ASCII", s, e)
				}
			}
			if d, err := DecodeMailbox(e); err != nil || d != s {
				t.Fatalf("DecodeMailbox(EncodeMailbox(%q)) = %q, %v", s, d, err)
			}
		}
	})
}

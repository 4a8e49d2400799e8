package message

import (
	"strings"
	"testing"
)

func TestDecodeHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"=?UTF-8?B?SGVsbG8=?= =?UTF-8?B?IHdvcmxk?=", "Hello world"},
		{"=?ISO-8859-1?Q?a?= b", "a b"},
		{"=?ISO-8859-1?Q?a?=  \r\n =?ISO-8859-1?Q?b?=", "ab"}, // RFC 2047 6.2
		{"=?utf-8?Q?a?= x =?utf-8?Q?b?=", "a x b"},
		{"=?utf-8?Q?a?==?utf-8?Q?b?=", "ab"},
		{"=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?=", "é"},        // split character
		{"=?UTF-8?B?w6k=?= =?ISO-8859-1?Q?=E9?=", "éé"}, // charset change
		{"=?x-unknown-charset?Q?abc?= def", "=?x-unknown-charset?Q?abc?= def"},
		{"=?utf-8?Q?abc", "=?utf-8?Q?abc"},
		{"=?utf-8?X?abc?=", "=?utf-8?X?abc?="},
		{"=??Q?abc?=", "=??Q?abc?="},
		{"=?utf-8*en?Q?abc?=", "abc"}, // RFC 2231 5 language
		{"caf\xe9", "café"},
		{"=?utf-8?q?caf=c3=a9?=", "café"},
		{"=?utf-8?Q?a_b?=", "a b"},
		{"=?utf-8?Q?a b?=", "a b"},
		{"=?utf-8?B?w6k?=", "é"},         // missing padding
		{"=?utf-8?B?!!w6k=?=", "é"},      // junk in base64
		{"=?utf-8?Q?bad=ZZ?=", "bad=ZZ"}, // bad escape kept
		{"=?utf-8?Q?=FF?=", "\uFFFD"},    // invalid UTF-8 replaced
		{"=?iso-2022-jp?B?GyRCJEgbKEI=?=", "と"},
		{"=?windows-1251?Q?=CF=F0=E8=E2=E5=F2?=", "Привет"},
		{"a =?", "a =?"},
		{"=?utf-8?Q??=", ""},
	} {
		if got := DecodeHeader(tc.in); got != tc.want {
			t.Errorf("DecodeHeader(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDecodeText(t *testing.T) {
	t.Parallel()
	part := func(enc, cs, body string) ([]byte, *Part) {
		h := "Content-Type: text/plain"
		if cs != "" {
			h += "; charset=" + cs
		}
		if enc != "" {
			h += "\r\nContent-Transfer-Encoding: " + enc
		}
		raw := []byte(h + "\r\n\r\n" + body)
		return raw, Parse(raw).Body
	}
	for _, tc := range []struct {
		enc, cs, body, want string
		err                 bool
	}{
		{"quoted-printable", "iso-8859-1", "Caf=E9=\r\n au lait=3d=3D", "Café au lait==", false},
		{"Quoted-Printable", "utf-8", "a=\nb =  \r\nc = d", "ab c = d", false},
		{"base64", "utf-8", "Q2Fmw6kg\r\nYXUgbGFpdA==\r\n", "Café au lait", false},
		{"base64", "", "QUJD\r\nREVG=\r\nR0g=", "ABCDEFGH", false}, // concatenated padded chunks
		{"", "", "caf\xe9", "café", false},                         // undeclared 8-bit
		{"8bit", "utf-8", "caf\xe9", "caf\uFFFD", false},
		{"", "x-nonsense", "abc", "abc", true},
		{"x-uuencode", "", "abc", "abc", true},
		{"7bit", "windows-1252", "\x93quoted\x94", "“quoted”", false},
	} {
		raw, p := part(tc.enc, tc.cs, tc.body)
		got, err := DecodeText(raw, p)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("DecodeText(%s, %s, %q) = %q, %v; want %q", tc.enc, tc.cs, tc.body, got, err, tc.want)
		}
	}
}

func TestPreview(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("wörd ", 200)
	for _, tc := range []struct{ name, raw, want string }{
		{"qp latin1", "Content-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nD=E9j=E0 vu\n\n\n  fin", "Déjà vu fin"},
		{"base64", "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nSGVsbG8sCgogIHdvcmxkIQ==", "Hello, world!"},
		{"html only", "Content-Type: text/html\n\n<html><head><title>T</title><style>p{color:red}</style></head><body><p>Caf&eacute;</p><script>x()</script><p>&lt;ok&gt;&nbsp;&#8203;yes</p></body></html>", "Café <ok> yes"},
		{"plain preferred over html", "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/html\n\n<b>html</b>\n--b\nContent-Type: text/plain\n\nplain\n--b--", "plain"},
		{"attachment skipped", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\nContent-Disposition: attachment\n\nattached\n--b\nContent-Type: text/html\n\n<i>body</i>\n--b--", "body"},
		{"empty plain falls through", "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\n\n--b\nContent-Type: text/html\n\n<i>html</i>\n--b--", "html"},
		{"embedded message last", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nSubject: x\n\ninner text\n--b--", "inner text"},
		{"truncated", "\n" + long, strings.TrimSpace(string([]rune(long)[:PreviewRunes]))},
		{"controls and NUL", "\n a\x00b\tc\x1b", "a b c"},
		{"no text", "Content-Type: image/png\n\n\x89PNG", ""},
	} {
		p := Parse([]byte(tc.raw))
		if p.Preview != tc.want {
			t.Errorf("%s: preview %q, want %q", tc.name, p.Preview, tc.want)
		}
	}
}

func TestParamHeader(t *testing.T) {
	t.Parallel()
	v, params := parseParamHeader(`attachment; FILENAME="a\"b;c.txt"; size=10; filename=dup; x=`)
	if v != "attachment" || params["filename"] != `a"b;c.txt` || params["size"] != "10" || params["x"] != "" {
		t.Errorf("got %q %q", v, params)
	}
	// RFC 2231: an extended value wins over the plain one; sections in any order.
	_, params = parseParamHeader(`inline; filename="plain.txt"; filename*1*=%A9.txt; filename*0*=utf-8'fr'r%C3`)
	if params["filename"] != "ré.txt" {
		t.Errorf("got %q", params)
	}
}

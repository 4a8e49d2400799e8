package webmail

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"time"
)

// draft is a message as the user composed it.
type draft struct {
	From        string
	To, Cc, Bcc []*mail.Address
	Subject     string
	Text        string
	InReplyTo   string // one msg-id, validated
	References  []string
	Attachments []attachment
}

type attachment struct {
	Name, Type string
	Data       []byte
}

// msgIDPattern is what we accept as a msg-id to copy into In-Reply-To and
// References (RFC 5322 3.6.4), strict enough that no header can be injected.
func msgIDPattern() *regexp.Regexp {
	return regexp.MustCompile(`^<[A-Za-z0-9!#$%&'*+/=?^_{|}~.@\-\[\]]{1,250}>$`)
}

// newMessageID makes a globally unique Message-ID (RFC 5322 3.6.4).
func newMessageID(host string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return "<" + hex.EncodeToString(b) + "@" + host + ">"
}

// headerText removes what may not appear in an unstructured header value.
func headerText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// encodeWord encodes non-ASCII text as RFC 2047 encoded-words.
func encodeWord(s string) string {
	return mime.QEncoding.Encode("utf-8", headerText(s))
}

func addressList(list []*mail.Address) string {
	parts := make([]string, len(list))
	for i, a := range list {
		if a.Name == "" {
			parts[i] = a.Address
		} else {
			parts[i] = a.String() // quotes and encodes the name (RFC 2047)
		}
	}
	// One address per folded line keeps every line short (RFC 5322 2.1.1).
	return strings.Join(parts, ",\r\n ")
}

// build renders d as an RFC 5322 message with MIME (RFC 2045-2049): plain
// text in quoted-printable, attachments in base64 under multipart/mixed.
// Bcc is written only into the copies we keep (Sent, Drafts), never into
// the message that is sent (RFC 5322 3.6.3).
func (d *draft) build(messageID string, date time.Time, withBcc bool) []byte {
	var b bytes.Buffer
	h := func(name, value string) {
		if value != "" {
			b.WriteString(name + ": " + value + "\r\n")
		}
	}
	h("Date", date.Format(time.RFC1123Z))
	h("From", d.From)
	h("To", addressList(d.To))
	h("Cc", addressList(d.Cc))
	if withBcc {
		h("Bcc", addressList(d.Bcc))
	}
	h("Subject", encodeWord(d.Subject))
	h("Message-ID", messageID)
	h("In-Reply-To", d.InReplyTo)
	h("References", strings.Join(d.References, "\r\n "))
	h("MIME-Version", "1.0")
	h("User-Agent", "Gannet webmail")
	if len(d.Attachments) == 0 {
		writeTextPart(&b, d.Text)
		return b.Bytes()
	}
	boundary := randomBoundary()
	h("Content-Type", `multipart/mixed; boundary="`+boundary+`"`)
	b.WriteString("\r\nThis is a multi-part message in MIME format.\r\n")
	b.WriteString("--" + boundary + "\r\n")
	writeTextPart(&b, d.Text)
	for _, a := range d.Attachments {
		b.WriteString("\r\n--" + boundary + "\r\n")
		ctype := a.Type
		if mt, _, err := mime.ParseMediaType(ctype); err != nil || !strings.Contains(mt, "/") {
			ctype = "application/octet-stream"
		} else {
			ctype = mt
		}
		name := safeFilename(a.Name)
		b.WriteString("Content-Type: " + mime.FormatMediaType(ctype, map[string]string{"name": name}) + "\r\n")
		b.WriteString("Content-Disposition: " + contentDisposition(name) + "\r\n")
		b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		if enc != "" {
			b.WriteString(enc + "\r\n")
		}
	}
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.Bytes()
}

// writeTextPart writes the header and body of the text part.
func writeTextPart(b *bytes.Buffer, text string) {
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(b)
	// The writer turns LF and CRLF into CRLF and wraps at 76 octets.
	qp.Write([]byte(strings.ReplaceAll(text, "\r\n", "\n")))
	qp.Close()
	b.WriteString("\r\n")
}

func randomBoundary() string {
	b := make([]byte, 18)
	rand.Read(b)
	return "gannet-" + hex.EncodeToString(b)
}

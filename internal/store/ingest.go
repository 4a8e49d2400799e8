package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"gannet/internal/message"
)

// MaxHeaderIndex bounds the header block a backend keeps for header search
// (Body.Header): a message with a huge header costs no more than this.
const MaxHeaderIndex = 256 << 10

// Body is what a backend stores once per distinct message content: its id and
// the results of parsing it at delivery, so that FETCH and SEARCH never parse
// the message again (docs/ARCHITECTURE.md, "Reading"). Where the bytes go
// (inline, blob file, compressed or not) is the backend's choice.
type Body struct {
	ID     string // hex SHA-256 of the raw message: the blob id
	Size   int64  // bytes of the raw message
	Parsed []byte // message.Parsed.Marshal(): envelope, structure, part offsets
	// Header is the raw header block, at most MaxHeaderIndex bytes (never
	// nil: an empty message has an empty header).
	Header []byte
	// Lower-cased searchable text of the indexed header fields: the decoded
	// Subject, and addresses as "name <box@host>, ..." (AddressText).
	Subject, From, To, Cc, Bcc string
	// SentDate is the Date: header as unix seconds, 0 when there is none or
	// it does not parse; SentDay is its calendar day (DayNumber), 0 then too.
	SentDate, SentDay int64
}

// Ingest parses a raw message once and returns what every backend stores for
// it. It is pure CPU and allocates; backends call it outside their write
// serialisation so that concurrent deliveries parse in parallel.
func Ingest(raw []byte) *Body {
	p := message.Parse(raw)
	sum := sha256.Sum256(raw)
	hdrEnd := int64(len(raw))
	if p.Body != nil {
		hdrEnd = p.Body.BodyStart
	}
	if hdrEnd > MaxHeaderIndex {
		hdrEnd = MaxHeaderIndex
	}
	b := &Body{
		ID:      hex.EncodeToString(sum[:]),
		Size:    int64(len(raw)),
		Parsed:  p.Marshal(),
		Header:  raw[:hdrEnd],
		Subject: strings.ToLower(p.Subject),
		From:    AddressText(p.Envelope.From),
		To:      AddressText(p.Envelope.To),
		Cc:      AddressText(p.Envelope.Cc),
		Bcc:     AddressText(p.Envelope.Bcc),
	}
	if b.Header == nil {
		b.Header = []byte{} // an empty message: backends store NOT NULL
	}
	if !p.Date.IsZero() {
		b.SentDate = p.Date.Unix()
		b.SentDay = DayNumber(p.Date)
	}
	return b
}

// DayNumber is the calendar day of t in t's own zone, as days since 1970-01-01:
// SENTBEFORE/SENTON/SENTSINCE disregard time and timezone (RFC 9051 6.4.4).
func DayNumber(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// AddressText renders addresses as lower-cased searchable text:
// "name <box@host>, ...".
func AddressText(list []message.Address) string {
	var sb strings.Builder
	for i, a := range list {
		if i > 0 {
			sb.WriteString(", ")
		}
		if a.Name != "" {
			sb.WriteString(a.Name)
			sb.WriteString(" ")
		}
		sb.WriteString("<")
		sb.WriteString(a.Mailbox)
		if a.Host != "" {
			sb.WriteString("@")
			sb.WriteString(a.Host)
		}
		sb.WriteString(">")
	}
	return strings.ToLower(sb.String())
}

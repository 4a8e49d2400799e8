// Package message parses a message once, at delivery: envelope, BODYSTRUCTURE tree
// with byte offsets of every part, the header fields search needs, and a preview.
// Parse never fails and never panics: broken MIME falls back to text/plain.
//
// Invariants of a *Parsed returned by Parse (and checked by FuzzParse):
//
//   - Body is never nil. For every part, 0 <= HeaderStart <= BodyStart <= End <= len(raw),
//     and every child lies inside its parent's body: parent.BodyStart <= child.HeaderStart
//     and child.End <= parent.End. Siblings are in order and do not overlap. The root
//     covers the whole message: HeaderStart == 0, End == len(raw).
//   - raw[HeaderStart:BodyStart] is the part's header including the blank line that ends
//     it (RFC 5322 2.1; empty header and no blank line are both possible for broken
//     input). raw[BodyStart:End] is the body; for multipart children the line break
//     before a boundary delimiter is not part of the body (RFC 2046 5.1.1).
//   - Type "multipart" implies len(Parts) >= 1. Type "message" with Subtype "rfc822" or
//     "global" implies len(Parts) == 1 and Envelope != nil (see Part.IsMessage); a
//     transfer-encoded message/rfc822 (forbidden by RFC 2046 5.2.1) is served as
//     application/octet-stream. Every other part has no children. Anything that cannot
//     honour these (no usable boundary, no delimiter at all, nesting deeper than
//     MaxDepth, more than MaxParts parts) becomes a text/plain leaf.
//   - Type and Subtype are lower-case and non-empty; parameter and disposition-parameter
//     keys are lower-case. Every string is valid UTF-8 (8-bit header bytes that are not
//     UTF-8 are read as windows-1252), so Marshal/Unmarshal round-trip exactly.
//   - Offsets are into raw exactly as given: CRLF, bare LF and stray CR are all
//     accepted and nothing is normalised.
//
// The package has no state; every function is safe for concurrent use.
package message

import "time"

// Address is one mailbox address (RFC 9051 7.5.2 envelope address structure).
type Address struct {
	Name    string `json:"n,omitempty"` // display name, decoded to UTF-8
	Mailbox string `json:"m,omitempty"` // local part
	Host    string `json:"h,omitempty"` // domain; "" with Mailbox set marks a group start/end
	// Route is an obsolete source route, "@a.example,@b.example" (RFC 5322
	// 4.4 obs-route), the ENVELOPE's adl (RFC 3501 7.4.2); usually "".
	Route string `json:"a,omitempty"`
}

// Envelope is the IMAP ENVELOPE (RFC 9051 7.5.2), fields decoded where possible.
type Envelope struct {
	Date      string    `json:"d,omitempty"` // raw Date: header value
	Subject   string    `json:"s,omitempty"` // raw (undecoded) Subject: value
	From      []Address `json:"f,omitempty"`
	Sender    []Address `json:"se,omitempty"`
	ReplyTo   []Address `json:"r,omitempty"`
	To        []Address `json:"t,omitempty"`
	Cc        []Address `json:"c,omitempty"`
	Bcc       []Address `json:"b,omitempty"`
	InReplyTo string    `json:"i,omitempty"`
	MessageID string    `json:"m,omitempty"`
}

// Parsed is everything computed once at delivery.
type Parsed struct {
	Envelope Envelope `json:"e"`
	Body     *Part    `json:"p"` // the root part (never nil after Parse)
	// Decoded, for search and display.
	Subject string    `json:"su,omitempty"` // RFC 2047 decoded
	Date    time.Time `json:"da,omitempty"` // parsed Date: header; zero if absent/invalid
	Preview string    `json:"pv,omitempty"` // up to ~256 chars of plain text
}

// Part is one node of the MIME tree with the byte offsets needed to serve
// BODY[section] as a range of the stored message (RFC 9051 6.4.5).
type Part struct {
	Type        string            `json:"t"`            // lower-case, e.g. "text"
	Subtype     string            `json:"st"`           // lower-case, e.g. "plain"
	Params      map[string]string `json:"pa,omitempty"` // content-type parameters, keys lower-case
	ID          string            `json:"id,omitempty"`
	Description string            `json:"de,omitempty"`
	Encoding    string            `json:"en,omitempty"` // Content-Transfer-Encoding, lower-case; "" = 7bit
	Disposition string            `json:"di,omitempty"`
	DispParams  map[string]string `json:"dp,omitempty"`
	Language    []string          `json:"la,omitempty"`
	Location    string            `json:"lo,omitempty"`
	MD5         string            `json:"md,omitempty"`

	// Byte offsets into the raw message.
	HeaderStart int64 `json:"hs"` // first byte of this part's header
	BodyStart   int64 `json:"bs"` // first byte after the blank line ending the header
	End         int64 `json:"e"`  // one past the last byte of the body
	Lines       int64 `json:"l"`  // body line count (text/* and message/rfc822)

	Parts []*Part `json:"c,omitempty"` // multipart children, or the one child of message/rfc822
	// For message/rfc822: the embedded message's envelope.
	Envelope *Envelope `json:"ev,omitempty"`
}

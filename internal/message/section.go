package message

// IsMessageType reports whether p is declared message/rfc822 or
// message/global (RFC 9051 7.5.2 body-type-msg, RFC 6532 3.7).
func (p *Part) IsMessageType() bool {
	return p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global")
}

// IsMessage reports whether p is an embedded message with its parsed root:
// BODYSTRUCTURE renders it as body-type-msg (RFC 9051 7.5.2). After Parse this
// equals IsMessageType.
func (p *Part) IsMessage() bool {
	return p.IsMessageType() && len(p.Parts) == 1 && p.Envelope != nil
}

// Message returns the root part of the embedded message of a message/rfc822
// part, or nil. Its header is what BODY[n.HEADER] returns; BODY[n.TEXT] is
// its body (RFC 9051 6.4.5).
func (p *Part) Message() *Part {
	if !p.IsMessage() {
		return nil
	}
	return p.Parts[0]
}

// Section returns the part named by IMAP section numbers (RFC 9051 6.4.5),
// with p taken as a message (normally Parsed.Body); an empty path returns p.
// Every multipart counts its children from 1; a part that is not multipart
// has only part 1, itself (so "1" of a single-part message is the root, whose
// body is BODY[1]); numbers after a message/rfc822 part count inside its
// embedded message. It returns nil for a number that names no part.
//
// The result's body is raw[BodyStart:End] and its MIME header (n.MIME) is
// raw[HeaderStart:BodyStart]; for HEADER and TEXT of an embedded message use
// Message().
func (p *Part) Section(path []int) *Part {
	cur := p // a message or a multipart whose parts the next number counts
	for i, n := range path {
		var picked *Part
		switch {
		case n < 1:
			return nil
		case cur.Type == "multipart":
			if n > len(cur.Parts) {
				return nil
			}
			picked = cur.Parts[n-1]
		case n == 1:
			picked = cur
		default:
			return nil
		}
		if i == len(path)-1 {
			return picked
		}
		switch {
		case picked.IsMessage():
			cur = picked.Parts[0]
		case picked.Type == "multipart" && picked != cur:
			cur = picked
		default:
			return nil
		}
	}
	return cur
}

// Walk calls fn for p and every part below it, depth first, parents before
// children, embedded messages included; it stops early when fn returns false.
func (p *Part) Walk(fn func(*Part) bool) bool {
	if !fn(p) {
		return false
	}
	for _, c := range p.Parts {
		if !c.Walk(fn) {
			return false
		}
	}
	return true
}

// Filename returns the attachment file name, RFC 2047 decoded: the
// Content-Disposition filename parameter (RFC 2183 2.3), else the obsolete
// Content-Type name parameter. RFC 2231 values are already decoded by Parse.
func (p *Part) Filename() string {
	if v := p.DispParams["filename"]; v != "" {
		return DecodeHeader(v)
	}
	return DecodeHeader(p.Params["name"])
}

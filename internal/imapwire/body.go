package imapwire

import (
	"math"
	"slices"

	"gannet/internal/message"
)

// Envelope writes an ENVELOPE (RFC 9051 7.5.2, 9: envelope): date, subject,
// from, sender, reply-to, to, cc, bcc, in-reply-to, message-id. Empty
// strings and empty address lists are NIL. Sender and Reply-To are written
// as given (internal/message already defaults them to From).
func (w *Writer) Envelope(e *message.Envelope) {
	w.BeginList()
	w.NString(e.Date)
	w.NString(e.Subject)
	w.addresses(e.From)
	w.addresses(e.Sender)
	w.addresses(e.ReplyTo)
	w.addresses(e.To)
	w.addresses(e.Cc)
	w.addresses(e.Bcc)
	w.NString(e.InReplyTo)
	w.NString(e.MessageID)
	w.EndList()
}

// addresses writes "(" 1*address ")" / nil; the addresses are not separated
// by spaces. Each is (name adl mailbox host), adl being an obsolete source
// route or NIL (RFC 3501 7.4.2, RFC 9051 7.5.2). Group syntax maps as is: a start is Mailbox set and Host "" and
// an end is all empty, which both come out with NIL host.
func (w *Writer) addresses(as []message.Address) {
	if len(as) == 0 {
		w.NIL()
		return
	}
	w.BeginList()
	for _, a := range as {
		w.sp = false
		w.BeginList()
		w.NString(a.Name)
		w.NString(a.Route)
		w.NString(a.Mailbox)
		w.NString(a.Host)
		w.EndList()
	}
	w.EndList()
}

// BodyStructure writes a body (RFC 9051 7.5.2, 9: body) for the part tree at
// p: with extension data for BODYSTRUCTURE (extended true), without for
// BODY. Field by field:
//
//   - type and subtype, upper-cased as in RFC 9051's examples; a multipart
//     has only its subtype, after its parts, which are not separated by
//     spaces;
//   - body-fld-param: sorted "KEY" "value" pairs with upper-cased keys, or
//     NIL; then id, description (NIL when empty), encoding ("7BIT" when
//     empty) and the size in octets of the body (End - BodyStart);
//   - message/rfc822 and message/global add the embedded ENVELOPE, its body
//     and its line count; text/* adds the line count;
//   - extension data: MD5 for single parts, parameters for multiparts, then
//     disposition ("TYPE" params) or NIL, language (a list) or NIL, and
//     location or NIL.
//
// A part that cannot be written as what it claims (a multipart without
// parts, a message/rfc822 without its envelope, an empty type) is written
// as text/plain or application/octet-stream, as internal/message would have
// parsed it.
func (w *Writer) BodyStructure(p *message.Part, extended bool) {
	w.BeginList()
	switch {
	case p.Type == "multipart" && len(p.Parts) > 0:
		for _, c := range p.Parts {
			w.sp = false // RFC 9051 9: body-type-mpart = 1*body SP media-subtype
			w.BodyStructure(c, extended)
		}
		w.upperString(p.Subtype)
		if extended {
			w.params(p.Params)
			w.extTail(p)
		}
	case isMessage(p):
		w.upperString(p.Type)
		w.upperString(p.Subtype)
		w.bodyFields(p)
		w.Envelope(p.Envelope)
		w.BodyStructure(p.Parts[0], extended)
		w.Number64(uint64(max(p.Lines, 0)))
		if extended {
			w.NString(p.MD5)
			w.extTail(p)
		}
	default:
		typ, sub := p.Type, p.Subtype
		switch {
		case typ == "" || sub == "" || typ == "multipart":
			typ, sub = "text", "plain"
		case typ == "message" && (sub == "rfc822" || sub == "global"):
			typ, sub = "application", "octet-stream"
		}
		w.upperString(typ)
		w.upperString(sub)
		w.bodyFields(p)
		if typ == "text" {
			w.Number64(uint64(max(p.Lines, 0)))
		}
		if extended {
			w.NString(p.MD5)
			w.extTail(p)
		}
	}
	w.EndList()
}

// isMessage is body-type-msg (RFC 9051 9: media-message): declared
// message/rfc822 or message/global with its parsed message and envelope.
func isMessage(p *message.Part) bool {
	return p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global") &&
		len(p.Parts) == 1 && p.Envelope != nil
}

// bodyFields writes body-fields: param id desc enc octets.
func (w *Writer) bodyFields(p *message.Part) {
	w.params(p.Params)
	w.NString(p.ID)
	w.NString(p.Description)
	if p.Encoding == "" {
		w.quoted1("7BIT")
	} else {
		w.upperString(p.Encoding)
	}
	size := p.End - p.BodyStart
	w.Number(uint32(min(max(size, 0), math.MaxUint32)))
}

// extTail writes body-fld-dsp SP body-fld-lang SP body-fld-loc.
func (w *Writer) extTail(p *message.Part) {
	if p.Disposition == "" {
		w.NIL()
	} else {
		w.BeginList()
		w.upperString(p.Disposition)
		w.params(p.DispParams)
		w.EndList()
	}
	if len(p.Language) == 0 {
		w.NIL()
	} else {
		w.BeginList()
		for _, l := range p.Language {
			w.String(l)
		}
		w.EndList()
	}
	w.NString(p.Location)
}

// params writes body-fld-param: "(" key value *(key value) ")" / nil.
func (w *Writer) params(m map[string]string) {
	if len(m) == 0 {
		w.NIL()
		return
	}
	var buf [8]string // no allocation for the usual few parameters
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.BeginList()
	for _, k := range keys {
		w.upperString(k)
		w.String(m[k])
	}
	w.EndList()
}

// quoted1 writes a string known to be quotable.
func (w *Writer) quoted1(s string) {
	w.sep()
	w.quoted(s)
}

// upperString writes s upper-cased as a string, without allocating when s
// is plain printable ASCII (the usual MIME token).
func (w *Writer) upperString(s string) {
	w.sep()
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			w.str(toUpperASCII(s))
			return
		}
	}
	b := append(w.bw.AvailableBuffer(), '"')
	for i := 0; i < len(s); i++ {
		b = append(b, upperASCII(s[i]))
	}
	w.write(append(b, '"'))
}

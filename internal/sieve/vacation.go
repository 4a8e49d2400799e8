package sieve

import (
	"crypto/sha256"
	"encoding/hex"
	"mime"
	"slices"
	"strings"
	"time"

	"gannet/internal/message"
)

// Vacation is the reply a vacation action asks for (RFC 5230 4, RFC 3834).
// Sending it, and recording that it was sent (Env.VacationSent), is the
// caller's job.
type Vacation struct {
	Handle     string        // identifies this vacation for the once-per-period rule (4.2)
	To         string        // the envelope sender the reply goes to (4.5)
	From       string        // :from, else the recipient address (4.4)
	Subject    string        // :subject, else "Auto: " + the original subject (4.3)
	Body       string        // the reason; with MIME a whole MIME entity, header included (4.4)
	MIME       bool          // :mime
	InReplyTo  string        // the original Message-ID (4.7, RFC 3834 3.1.4)
	References string        // original References (or In-Reply-To) plus its Message-ID
	Period     time.Duration // no second reply to To within this (4.1, RFC 6131)
}

// RFC 5230 4.1 and RFC 6131 3: the period's bounds; :days below the minimum
// takes the minimum, above the maximum the maximum.
const (
	vacationDefault = 7 * 24 * time.Hour
	vacationMinDays = 24 * time.Hour
	vacationMax     = 90 * 24 * time.Hour
)

// vacation decides whether to reply (RFC 5230 4.5, 4.6 and RFC 3834 2) and
// records the reply as an action. Not replying is not an error.
func (st *runState) vacation(fr *frame, n *cnode) error {
	reason := fr.str(st, n.args[0])
	subject := fr.str(st, n.tags["subject"])
	from := fr.str(st, n.tags["from"])
	handle := fr.str(st, n.tags["handle"])
	if _, ok := n.tags["handle"]; !ok {
		// 4.2: without :handle, vacations with the same arguments share one.
		h := sha256.Sum256([]byte(reason + "\x00" + subject + "\x00" + from + "\x00" + strings.Repeat("m", boolInt(n.has("mime")))))
		handle = hex.EncodeToString(h[:12])
	}
	period := vacationDefault
	if a, ok := n.tags["days"]; ok {
		period = min(max(time.Duration(min(a.num, 1000))*24*time.Hour, vacationMinDays), vacationMax)
		if a.num == 0 && fr.script.caps["vacation-seconds"] {
			period = 0 // RFC 6131 2: with vacation-seconds, :days 0 is allowed
		}
	}
	if a, ok := n.tags["seconds"]; ok {
		// RFC 6131 2: 0 means reply every time.
		period = min(time.Duration(min(a.num, uint64(vacationMax/time.Second)))*time.Second, vacationMax)
	}
	if !st.shouldReply(fr, n) {
		return nil
	}
	sender := st.msg.env.From
	if st.env.VacationSent != nil && period > 0 {
		sent, err := st.env.VacationSent(st.ctx, handle, sender, period)
		if err != nil {
			return st.errAt(fr, n, "vacation: reply tracking failed")
		}
		if sent {
			return nil
		}
	}
	if subject == "" {
		orig := strings.TrimSpace(message.DecodeHeader(first(headerValues(st.header, "subject"))))
		subject = "Auto: " + orig
		if orig == "" {
			subject = "Automated reply"
		}
	}
	if from == "" {
		from = st.msg.env.To
	}
	msgID := strings.TrimSpace(first(headerValues(st.header, "message-id")))
	refs := strings.TrimSpace(first(headerValues(st.header, "references")))
	if refs == "" {
		refs = strings.TrimSpace(first(headerValues(st.header, "in-reply-to")))
	}
	refs = strings.TrimSpace(refs + " " + msgID)
	return st.add(fr, n, Action{Kind: Reply, Vacation: &Vacation{
		Handle: handle, To: sender, From: from, Subject: subject, Body: reason,
		MIME: n.has("mime"), InReplyTo: msgID, References: refs, Period: period,
	}})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// shouldReply applies the rules on whom not to answer.
func (st *runState) shouldReply(fr *frame, n *cnode) bool {
	sender := strings.ToLower(strings.TrimSpace(st.msg.env.From))
	if sender == "" || sender == "<>" {
		return false // RFC 5230 4.5 / RFC 3834 2: never to the null sender
	}
	mine := []string{strings.ToLower(st.msg.env.To)}
	for _, a := range st.env.Addresses {
		mine = append(mine, strings.ToLower(a))
	}
	for _, a := range fr.list(st, n.tags["addresses"]) {
		mine = append(mine, strings.ToLower(strings.TrimSpace(a)))
	}
	if slices.Contains(mine, sender) {
		return false // 4.6: not to ourselves
	}
	local := splitAddress(sender).local
	if local == "mailer-daemon" || local == "listserv" || local == "majordomo" ||
		strings.HasPrefix(local, "owner-") || strings.HasSuffix(local, "-request") {
		return false // 4.6: not to list and system addresses
	}
	for _, v := range headerValues(st.header, "auto-submitted") {
		if !strings.EqualFold(strings.TrimSpace(strings.Split(v, ";")[0]), "no") {
			return false // RFC 3834 2, 5
		}
	}
	for _, f := range st.header {
		if strings.HasPrefix(strings.ToLower(f.name), "list-") {
			switch strings.ToLower(f.name) {
			case "list-id", "list-help", "list-subscribe", "list-unsubscribe", "list-post", "list-owner", "list-archive":
				return false // 4.6: mailing lists (RFC 2369, 2919)
			}
		}
	}
	for _, v := range headerValues(st.header, "precedence") {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "bulk", "list", "junk":
			return false // RFC 3834 2
		}
	}
	// 4.5: reply only when one of the user's addresses is a visible recipient.
	for _, h := range []string{"to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"} {
		for _, v := range headerValues(st.header, h) {
			for _, a := range parseAddresses(v) {
				if slices.Contains(mine, strings.ToLower(a.local+"@"+a.domain)) {
					return true
				}
			}
		}
	}
	return false
}

// Compose builds the reply message (RFC 5230 5, RFC 3834 3): the header
// fields a vacation reply needs, Auto-Submitted: auto-replied among them, and
// the reason as a UTF-8 text body, or with MIME the reason as the whole MIME
// entity. Line ends become CRLF. The caller sends it from the null
// reverse-path to To (RFC 5230 4.5, RFC 3834 3.3).
func (v *Vacation) Compose(date time.Time, messageID string) []byte {
	var b strings.Builder
	hdr := func(name, value string) {
		if value != "" {
			b.WriteString(name + ": " + value + "\r\n")
		}
	}
	hdr("Date", date.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	hdr("From", oneLine(v.From))
	hdr("To", oneLine(v.To))
	hdr("Subject", mime.QEncoding.Encode("utf-8", oneLine(v.Subject)))
	hdr("Message-ID", oneLine(messageID))
	hdr("In-Reply-To", oneLine(v.InReplyTo))
	hdr("References", oneLine(v.References))
	hdr("Auto-Submitted", "auto-replied")
	hdr("MIME-Version", "1.0")
	body := strings.ReplaceAll(strings.ReplaceAll(v.Body, "\r\n", "\n"), "\n", "\r\n")
	if v.MIME {
		b.WriteString(body) // the reason starts with its own MIME header fields
		return []byte(b.String())
	}
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	b.WriteString(body)
	if !strings.HasSuffix(body, "\r\n") {
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}

// oneLine keeps a header value on one line, whatever a script put in it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

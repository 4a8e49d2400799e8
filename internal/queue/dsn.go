package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"

	"gannet/internal/smtp"
	"gannet/internal/smtpclient"
	"gannet/internal/store"
)

// DSN actions (RFC 3464 2.3.3).
const (
	actionFailed  = "failed"
	actionDelayed = "delayed"
	actionRelayed = "relayed"
	// actionDelivered: final delivery into a local mailbox with NOTIFY=SUCCESS
	// (RFC 3461 5.2.2), reported by delivery through Queue.Report.
	actionDelivered = "delivered"
)

// maxReturned bounds how much of the original a failure DSN carries in full;
// a bigger original is returned as its header only (RFC 3461 4.3 leaves the
// choice to us when the message is large).
const maxReturned = 10 << 20

// reportRcpt is one recipient in a DSN.
type reportRcpt struct {
	rcpt        store.QueuedRecipient
	reply       smtpclient.Reply
	mta         string
	lastAttempt time.Time
	retryUntil  time.Time // delayed: when we give up
	expired     bool      // failed because MaxAge passed
}

// report sends the sender a DSN for rcpts. A bounce (null sender) never gets
// one (RFC 3461 6.2, RFC 5321 6.1: no bounce of a bounce). A local account's
// DSN goes straight into its INBOX; any other sender (mail relayed by an alias
// that forwards elsewhere) gets it by mail from the null sender, since the
// server that accepted a message MUST report its failure (RFC 5321 6.1).
// Delay warnings go to such senders only when they asked for them with
// NOTIFY=DELAY: unasked, they are mostly backscatter.
func (q *Queue) report(ctx context.Context, m *store.QueuedMessage, raw []byte, action string, rcpts []reportRcpt, now time.Time) {
	if m.From == "" {
		q.log.Info("no DSN for a message with null sender", "id", m.ID, "action", action)
		return
	}
	acct, err := q.sender(ctx, m)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		q.log.Error("DSN not sent: sender lookup failed", "id", m.ID, "from", m.From, "action", action, "err", err)
		return
	}
	if acct == nil && action == actionDelayed {
		asked := rcpts[:0:0]
		for _, r := range rcpts {
			if strings.Contains(strings.ToUpper(r.rcpt.Notify), "DELAY") {
				asked = append(asked, r)
			}
		}
		if len(asked) == 0 {
			q.log.Info("no delay DSN for a sender elsewhere that did not ask for one", "id", m.ID, "from", m.From)
			return
		}
		rcpts = asked
	}
	msg, err := q.buildDSN(m, raw, action, rcpts, now)
	if err != nil {
		q.log.Error("DSN not built", "id", m.ID, "err", err)
		return
	}
	if acct == nil {
		q.mailDSN(ctx, m, msg, action, len(rcpts), now)
		return
	}
	res, err := q.st.Deliver(ctx, store.Delivery{Raw: msg, InternalDate: now, Recipients: []store.Recipient{{AccountID: acct.ID}}})
	if err == nil && len(res) == 1 && res[0].Err != nil {
		err = res[0].Err
	}
	if err != nil {
		// Losing a DSN is bad, but holding the queue for it is worse: the
		// recipients' fate is settled either way.
		q.log.Error("DSN not delivered", "id", m.ID, "account", acct.Address, "action", action, "err", err)
		return
	}
	q.log.Info("DSN delivered", "id", m.ID, "account", acct.Address, "action", action, "rcpts", len(rcpts))
}

// mailDSN sends a DSN to a sender that is not a local account, from the null
// sender (RFC 5321 4.5.5, 6.1) so that it can never bounce back. A sender in
// one of our domains (an alias) is resolved here, not queued: its domain's MX
// is this server.
func (q *Queue) mailDSN(ctx context.Context, m *store.QueuedMessage, msg []byte, action string, n int, now time.Time) {
	addr, err := smtp.ParseAddress(m.From)
	if err != nil {
		q.log.Warn("DSN not sent: unusable sender address", "id", m.ID, "from", m.From, "err", err)
		return
	}
	var remote []string
	local, err := q.st.IsLocalDomain(ctx, addr.ASCIIDomain())
	switch {
	case err != nil:
		q.log.Error("DSN not sent: domain lookup failed", "id", m.ID, "from", m.From, "err", err)
		return
	case !local:
		remote = []string{addr.String()}
	default:
		res, err := q.st.Resolve(ctx, addr.Key())
		if err != nil {
			q.log.Warn("DSN not sent: sender does not resolve here", "id", m.ID, "from", m.From, "err", err)
			return
		}
		if len(res.Local) > 0 {
			d := store.Delivery{Raw: msg, InternalDate: now}
			for _, a := range res.Local {
				d.Recipients = append(d.Recipients, store.Recipient{AccountID: a.ID})
			}
			if _, err := q.st.Deliver(ctx, d); err != nil {
				q.log.Error("DSN not delivered", "id", m.ID, "from", m.From, "action", action, "err", err)
			}
		}
		remote = res.Remote
	}
	if len(remote) > 0 {
		if err := q.Enqueue(ctx, store.Outbound{From: "", Recipients: remote, Raw: msg}); err != nil {
			q.log.Error("DSN not queued", "id", m.ID, "from", m.From, "action", action, "err", err)
			return
		}
	}
	q.log.Info("DSN sent", "id", m.ID, "to", m.From, "action", action, "rcpts", n)
}

// sender finds the account a DSN goes to: the sending account, else the
// account whose address is the envelope sender.
func (q *Queue) sender(ctx context.Context, m *store.QueuedMessage) (*store.Account, error) {
	if m.AccountID != 0 {
		a, err := q.st.AccountByID(ctx, m.AccountID)
		if err == nil {
			return a, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return q.st.Account(ctx, m.From)
}

// buildDSN composes an RFC 3464 report: multipart/report (RFC 6522) with a
// human-readable part, a message/delivery-status part, and the original
// message (failures, unless RET=HDRS) or its header.
func (q *Queue) buildDSN(m *store.QueuedMessage, raw []byte, action string, rcpts []reportRcpt, now time.Time) ([]byte, error) {
	boundary := "=_gannet_" + rand.Text()
	utf8 := !isASCII(m.From)
	for _, r := range rcpts {
		utf8 = utf8 || !isASCII(r.rcpt.Address) || !isASCII(r.rcpt.ORcpt)
	}
	addrType := "rfc822"
	statusType := "message/delivery-status"
	if utf8 {
		// RFC 6533 3 and 6: internationalized addresses use the utf-8 address
		// type inside message/global-delivery-status.
		addrType = "utf-8"
		statusType = "message/global-delivery-status"
	}
	header, body := splitMessage(raw)
	origID := ""
	var origSubject string
	if hm, err := mail.ReadMessage(bytes.NewReader(append(header, "\r\n"...))); err == nil {
		origID = strings.TrimSpace(hm.Header.Get("Message-Id"))
		dec := new(mime.WordDecoder)
		if s, err := dec.DecodeHeader(hm.Header.Get("Subject")); err == nil {
			origSubject = s
		}
	}

	var b strings.Builder
	w := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteString("\r\n")
	}
	subject := map[string]string{
		actionFailed:    "Undelivered Mail Returned to Sender",
		actionDelayed:   "Delayed Mail (still being retried)",
		actionRelayed:   "Delivery Status Notification (relayed)",
		actionDelivered: "Successful Mail Delivery Report",
	}[action]
	w("From: Mail Delivery System <MAILER-DAEMON@%s>", q.hostname)
	w("To: <%s>", m.From)
	w("Subject: %s", subject)
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: <dsn.%d.%s@%s>", m.ID, strings.ToLower(rand.Text()), q.hostname)
	if origID != "" {
		w("In-Reply-To: %s", origID)
		w("References: %s", origID)
	}
	// RFC 3834 5: automatic responses are marked so that no one answers them.
	w("Auto-Submitted: auto-replied")
	w("MIME-Version: 1.0")
	w("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"", boundary)
	w("")
	w("This is a MIME-encapsulated delivery status notification.")
	w("")

	// Part 1: for people (RFC 3464 2: "human-readable explanation").
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=utf-8")
	w("Content-Transfer-Encoding: 8bit")
	w("Content-Description: Notification")
	w("")
	w("This is the mail system at %s.", q.hostname)
	w("")
	switch action {
	case actionFailed:
		w("Your message could not be delivered to the recipients below.")
		w("The reason is given with each address. This is final: the message")
		w("will not be retried.")
	case actionDelayed:
		w("Your message has not yet been delivered to the recipients below.")
		w("Delivery is still being retried; you need not send it again. You will")
		w("be told if it finally fails.")
	case actionRelayed:
		w("Your message was passed on to the recipients' mail system below, which")
		w("does not report final delivery. You asked to be told of success; this")
		w("is as far as we can tell.")
	case actionDelivered:
		w("Your message was delivered to the mailboxes of the recipients below,")
		w("as you asked to be told.")
	}
	if origSubject != "" {
		w("")
		w("Subject: %s", oneLine(origSubject))
	}
	w("")
	for _, r := range rcpts {
		w("<%s>: %s", r.rcpt.Address, oneLine(explain(r)))
		if !r.retryUntil.IsZero() {
			w("    Retried until %s.", r.retryUntil.Format(time.RFC1123Z))
		}
	}
	w("")

	// Part 2: for programs (RFC 3464 2.2, 2.3).
	w("--%s", boundary)
	w("Content-Type: %s", statusType)
	w("Content-Description: Delivery report")
	w("")
	w("Reporting-MTA: dns; %s", q.hostname)
	if m.EnvID != "" {
		w("Original-Envelope-Id: %s", oneLine(m.EnvID))
	}
	w("Arrival-Date: %s", m.Created.Format(time.RFC1123Z))
	for _, r := range rcpts {
		w("")
		if r.rcpt.ORcpt != "" {
			typ, addr, ok := strings.Cut(r.rcpt.ORcpt, ";")
			if !ok {
				typ, addr = "rfc822", r.rcpt.ORcpt
			}
			w("Original-Recipient: %s;%s", oneLine(strings.TrimSpace(typ)), oneLine(strings.TrimSpace(addr)))
		}
		w("Final-Recipient: %s; %s", addrType, r.rcpt.Address)
		w("Action: %s", action)
		w("Status: %s", status(r, action))
		if r.mta != "" {
			w("Remote-MTA: dns; %s", r.mta)
		}
		if !r.reply.Local && r.reply.Code != 0 {
			// RFC 3464 2.3.6: the remote server's own words.
			w("Diagnostic-Code: smtp; %s", oneLine(r.reply.String()))
		} else if r.reply.Code != 0 {
			// Our own verdict (no MX, no connection): an x-type diagnostic.
			w("Diagnostic-Code: X-Gannet; %s", oneLine(r.reply.String()))
		}
		w("Last-Attempt-Date: %s", r.lastAttempt.Format(time.RFC1123Z))
		if !r.retryUntil.IsZero() {
			w("Will-Retry-Until: %s", r.retryUntil.Format(time.RFC1123Z))
		}
	}
	w("")

	// Part 3: the original, whole or its header (RFC 3462 / RFC 6522 3,
	// RFC 3461 4.3 RET).
	if raw != nil {
		w("--%s", boundary)
		full := action == actionFailed && !strings.EqualFold(m.Ret, "HDRS") && len(raw) <= maxReturned
		if full {
			ctype := "message/rfc822"
			if utf8 {
				ctype = "message/global" // RFC 6532 3.7
			}
			w("Content-Type: %s", ctype)
			if has8bit(raw) {
				w("Content-Transfer-Encoding: 8bit")
			}
			w("Content-Description: Undelivered message")
			w("")
			b.Write(crlf(header))
			b.WriteString("\r\n")
			b.Write(crlf(body))
			if len(body) > 0 && !bytes.HasSuffix(body, []byte("\n")) {
				b.WriteString("\r\n")
			}
		} else {
			ctype := "text/rfc822-headers"
			if utf8 {
				ctype = "message/global-headers" // RFC 6533 6.3
			}
			w("Content-Type: %s", ctype)
			if has8bit(header) {
				w("Content-Transfer-Encoding: 8bit")
			}
			w("Content-Description: Message header")
			w("")
			b.Write(crlf(header))
		}
		w("")
	}
	w("--%s--", boundary)
	return []byte(b.String()), nil
}

// explain says in words what happened to one recipient.
func explain(r reportRcpt) string {
	switch {
	case r.expired:
		return "delivery time expired; last error: " + lastError(outcome{reply: r.reply, mta: r.mta})
	case r.mta != "" && !r.reply.Local:
		return "host " + r.mta + " said: " + r.reply.String()
	}
	return r.reply.String()
}

// status is the RFC 3463 code of the per-recipient Status field.
func status(r reportRcpt, action string) string {
	switch {
	case r.expired:
		return "4.4.7"
	case action == actionRelayed || action == actionDelivered:
		return "2.0.0"
	}
	s := r.reply.Status()
	if action == actionDelayed && !strings.HasPrefix(s, "4.") {
		return "4.0.0"
	}
	return s
}

// splitMessage splits raw at the blank line ending the header; the header
// keeps its last line break.
func splitMessage(raw []byte) (header, body []byte) {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			return raw, nil
		}
		line := raw[i : i+j+1]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return raw[:i], raw[i+j+1:]
		}
		i += j + 1
	}
	return raw, nil
}

// crlf makes every line break CRLF, as a stored message must have.
func crlf(b []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(b) + len(b)/40)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\r':
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			out.WriteString("\r\n")
		case '\n':
			out.WriteString("\r\n")
		default:
			out.WriteByte(b[i])
		}
	}
	return out.Bytes()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func has8bit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

package smtpserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"gannet/internal/connlimit"
	"gannet/internal/delivery"
	"gannet/internal/mailauth"
	"gannet/internal/smtp"
)

// Data receives the message (DATA, RFC 5321 4.1.1.4, or BDAT, RFC 3030) and
// delivers it. go-smtp writes what Data returns as the one reply: a
// *gosmtp.SMTPError, which for success carries our 250 with the message id.
func (ss *session) Data(r io.Reader) error {
	ss.c.enter()
	defer ss.c.leave()
	ss.mu.Lock()
	tx := ss.tx
	account := ss.account
	ss.mu.Unlock()
	if tx == nil || len(tx.rcpts) == 0 {
		io.Copy(io.Discard, r)
		return reply(smtp.NewReply(503, smtp.EnhancedCode{5, 5, 1}, "No valid recipients"))
	}

	// With BDAT, go-smtp reads each chunk with the deadline of its command;
	// with DATA the whole message follows one command, so we move the read
	// deadline on while bytes arrive (RFC 5321 4.5.3.2.5), within DataTimeout.
	if _, isBDAT := r.(*io.PipeReader); !isBDAT {
		// go-smtp has just sent 354; a client writing the message and the
		// final "." separately would otherwise wait for our delayed ACK.
		connlimit.QuickAck(ss.c)
		r = &deadlineReader{r: r, c: ss.c, idle: ss.s.opts.Timeout,
			end: time.Now().Add(ss.s.opts.DataTimeout)}
	}
	buf := getBuffer()
	// Nothing keeps msg past Data: delivery copies it (with its trace fields)
	// into the store or the queue before it returns.
	defer putBuffer(buf)
	msg, rerr := readMessage(buf, r, tx.size, ss.s.opts.MaxMessageBytes)
	if rerr != nil {
		if rerr.Code == 421 {
			ss.c.hangUp()
		}
		return ss.refuse("data", rerr)
	}
	if !ss.s.begin() {
		return reply(smtp.ShuttingDown())
	}
	defer ss.s.end()
	d := ss.s.opts.Deliverer
	if ss.s.opts.Mode == Submission {
		if account == nil {
			return ss.refuse("data", smtp.AuthRequired())
		}
		var err error
		if msg, err = d.PrepareSubmission(ss.ctx(), account, msg); err != nil {
			return ss.refuse("data", asReply(err))
		}
	}
	junk := false
	if ss.s.opts.Mode == MX && account == nil && ss.s.opts.Checker != nil {
		var rep *smtp.Reply
		if msg, junk, rep = ss.authCheck(tx, msg); rep != nil {
			return ss.refuse("data", rep)
		}
	}
	env := &delivery.Envelope{
		Junk:       junk,
		From:       tx.from,
		Recipients: tx.rcpts,
		Account:    account,
		UTF8:       tx.utf8,
		EnvID:      tx.envID,
		Ret:        tx.ret,
		Trace: delivery.Trace{
			Helo:     ss.helo,
			RemoteIP: ss.c.ip,
			TLS:      ss.tls,
			// go-smtp does not say whether the client used EHLO or HELO; a
			// client that sends a message through us almost always uses EHLO.
			ESMTP: true,
		},
	}
	out, err := d.Deliver(ss.ctx(), env, msg)
	if err != nil {
		return ss.refuse("data", asReply(err))
	}
	if rep := out.Reply(); rep != nil {
		return ss.refuse("data", rep)
	}
	failed := 0
	for _, res := range out.Results {
		if res.Err != nil {
			failed++
		}
	}
	args := []any{"id", out.ID, "from", tx.from.String(), "rcpts", len(out.Results), "failed", failed, "size", len(msg)}
	if account != nil {
		args = append(args, "account", account.Address)
	}
	ss.log.Info("delivered", args...)
	return &gosmtp.SMTPError{Code: 250, EnhancedCode: gosmtp.EnhancedCode{2, 0, 0},
		Message: "OK: message accepted, id " + out.ID}
}

// authCheckTimeout bounds the DNS work of SPF, DKIM and DMARC for one message.
const authCheckTimeout = 20 * time.Second

// authCheck runs the inbound checks and returns the message stamped with
// Authentication-Results (forged ones claiming our name removed, RFC 8601 5),
// whether DMARC asks for quarantine, or a refusal when DMARC says reject: 550
// 5.7.1 at the end of DATA (RFC 7489 6.7, 7.3).
func (ss *session) authCheck(tx *transaction, msg []byte) ([]byte, bool, *smtp.Reply) {
	c := ss.s.opts.Checker
	ctx, cancel := context.WithTimeout(ss.ctx(), authCheckTimeout)
	defer cancel()
	from := ""
	if !tx.from.IsNull() {
		from = tx.from.String()
	}
	res := c.Check(ctx, mailauth.Input{RemoteIP: ss.c.ip, Helo: ss.helo, MailFrom: from, Raw: msg})
	ss.log.Info("authentication", "spf", res.SPF.Status, "dmarc", res.DMARC.Status, "disposition", res.Disposition.String())
	if res.Disposition == mailauth.Reject {
		return nil, false, smtp.NewReply(550, smtp.EnhancedCode{5, 7, 1}, "Message rejected by the sender domain's DMARC policy").
			WithCause(fmt.Errorf("dmarc %s for %s", res.DMARC.Status, res.DMARC.From))
	}
	return c.Stamp(msg, res), res.Disposition == mailauth.Quarantine, nil
}

// About go-smtp's DATA reader (v0.25.1, data.go), which we cannot replace:
//   - It ends DATA only at a real CRLF "." CRLF (or "." CRLF first), so a
//     look-alike such as "\n.\n" or "\r.\r" never ends a message early: no
//     SMTP smuggling into a second message. We then refuse the bare LF or CR.
//   - It drops the CR of a line that starts with "." followed by a CR that is
//     not followed by LF (".\rX" becomes "X"), and after "\r\r\n" it does not
//     recognise the line start, so a CRLF "." CRLF right after that is taken as
//     data and the reader waits for the next one. Both need a bare CR that no
//     conforming client (which dot-stuffs and sends CRLF) produces; the first
//     hides the CR from hasBareLineEnding, the second makes the client time out.
//     Neither can split one message into two.
//
// readMessage reads the whole message and refuses what we do not store: more
// than max bytes (552 5.3.4, enforced while reading by go-smtp for DATA and
// per chunk for BDAT, and here again), and bare CR or LF (554 5.6.0). sizeHint
// is MAIL SIZE=, used only to size the buffer. The message is read into buf,
// which must be empty.
func readMessage(buf *bytes.Buffer, r io.Reader, sizeHint, maxBytes int64) ([]byte, *smtp.Reply) {
	if sizeHint > 0 {
		buf.Grow(int(min(sizeHint, maxBytes) + 512))
	}
	n, err := buf.ReadFrom(io.LimitReader(r, maxBytes+1))
	if err == nil && n > maxBytes {
		err = gosmtp.ErrDataTooLarge
	}
	if err != nil {
		// Drain what the client still sends so that go-smtp can answer
		// after the end of data; for DATA go-smtp does this itself too.
		io.Copy(io.Discard, r)
		return nil, dataError(err)
	}
	msg := buf.Bytes()
	if hasBareLineEnding(msg) {
		return nil, smtp.BareLineEnding()
	}
	return msg, nil
}

// bufPool holds message buffers: growing a fresh one to the size of each
// message was a third of the SMTP server's allocations.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooled keeps a rare big message's buffer from being held for reuse.
const maxPooled = 1 << 20

func getBuffer() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooled {
		return
	}
	b.Reset()
	bufPool.Put(b)
}

// dataError maps an error from reading the message to a reply.
func dataError(err error) *smtp.Reply {
	var se *gosmtp.SMTPError
	var ne net.Error
	switch {
	case errors.As(err, &se) && se.Code == 552:
		return smtp.MessageTooBig().WithCause(err)
	case errors.Is(err, gosmtp.ErrTooLongLine):
		return smtp.LineTooLong().WithCause(err)
	case errors.As(err, &ne) && ne.Timeout():
		return smtp.Timeout().WithCause(err)
	case errors.Is(err, gosmtp.ErrDataReset):
		return smtp.NewReply(451, smtp.EnhancedCode{4, 3, 0}, "Message transfer aborted").WithCause(err)
	}
	return smtp.LocalError().WithCause(fmt.Errorf("read message: %w", err))
}

// hasBareLineEnding reports a CR not followed by LF or an LF not preceded by
// CR (RFC 5321 2.3.8: lines end with CRLF, and a bare CR or LF is not a line
// ending). Both are counted with vectorised byte searches: every LF must have a
// CR before it, and then there may be no CR beyond those.
func hasBareLineEnding(b []byte) bool {
	lf := 0
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		if i+j == 0 || b[i+j-1] != '\r' {
			return true
		}
		lf++
		i += j + 1
	}
	return bytes.Count(b, []byte{'\r'}) != lf
}

// deadlineReader moves the connection's read deadline on before each read:
// Timeout from now, but never past end. Reads are capped at dataChunk bytes
// because go-smtp's DATA reader returns only when the buffer is full: so each
// dataChunk bytes must arrive within Timeout.
type deadlineReader struct {
	r    io.Reader
	c    *conn
	idle time.Duration
	end  time.Time
	set  time.Time // when the deadline was last moved
}

// dataChunk is the most one read of DATA asks for.
const dataChunk = 4 << 10

func (d *deadlineReader) Read(p []byte) (int, error) {
	if len(p) > dataChunk {
		p = p[:dataChunk]
	}
	now := time.Now()
	// Moving the deadline costs a little; doing it when a tenth of the idle
	// time has passed keeps the bound within 10% of Timeout.
	if now.Sub(d.set) > d.idle/10 {
		dl := now.Add(d.idle)
		if dl.After(d.end) {
			dl = d.end
		}
		d.c.SetReadDeadline(dl)
		d.set = now
	}
	return d.r.Read(p)
}

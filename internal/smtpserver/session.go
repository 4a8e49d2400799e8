package smtpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"strings"
	"sync"

	gosmtp "github.com/emersion/go-smtp"

	"gannet/internal/delivery"
	"gannet/internal/smtp"
	"gannet/internal/store"
)

// backend makes a session per EHLO/HELO (go-smtp makes a new one after
// STARTTLS, so a session's TLS state never changes).
type backend struct{ s *Server }

func (b backend) NewSession(gc *gosmtp.Conn) (gosmtp.Session, error) {
	c := connOf(gc)
	if c == nil {
		return nil, reply(smtp.LocalError())
	}
	ss := &session{s: b.s, c: c, log: c.log, helo: gc.Hostname()}
	if st, ok := gc.TLSConnectionState(); ok {
		ss.tls = &st
	}
	return ss, nil
}

// session is one SMTP session between EHLO and QUIT (or STARTTLS).
type session struct {
	s    *Server
	c    *conn
	log  *slog.Logger
	helo string
	tls  *tls.ConnectionState // nil without TLS

	// mu guards the fields below: with BDAT, go-smtp runs Data in its own
	// goroutine while the connection's goroutine may call Reset.
	mu      sync.Mutex
	account *store.Account // set by a successful AUTH
	tx      *transaction   // nil between transactions
}

// transaction is the state of one MAIL ... DATA sequence.
type transaction struct {
	from  smtp.Address
	utf8  bool
	size  int64
	envID string
	ret   string
	rcpts []*delivery.Recipient
}

func (ss *session) ctx() context.Context { return ss.s.ctx }

func (ss *session) authenticated() *store.Account {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.account
}

// Reset ends the transaction (RSET, a new EHLO, the end of DATA).
func (ss *session) Reset() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.tx = nil
}

// Logout is called when the connection closes or STARTTLS begins.
func (ss *session) Logout() error { return nil }

// Mail starts a transaction (RFC 5321 4.1.1.2).
func (ss *session) Mail(from string, opts *gosmtp.MailOptions) error {
	if ss.c.expired() {
		return ss.timeout("mail")
	}
	if !ss.s.begin() {
		return reply(smtp.ShuttingDown())
	}
	defer ss.s.end()
	account := ss.authenticated()
	if ss.s.opts.Mode == Submission && account == nil {
		return ss.refuse("mail", smtp.AuthRequired())
	}
	var addr smtp.Address
	if from != "" {
		var err error
		if addr, err = smtp.ParseAddress(from); err != nil {
			return ss.refuse("mail", smtp.BadSenderSyntax().WithCause(err))
		}
		// RFC 6531 3.4: a non-ASCII address needs MAIL ... SMTPUTF8.
		if !addr.IsASCII() && !opts.UTF8 {
			return ss.refuse("mail", smtp.UTF8Required())
		}
	}
	if account != nil {
		if err := ss.s.opts.Deliverer.CheckSender(ss.ctx(), account, addr); err != nil {
			return ss.refuse("mail", asReply(err))
		}
	}
	if rep := ss.s.checkSpace(); rep != nil {
		return ss.refuse("mail", rep)
	}
	ss.mu.Lock()
	ss.tx = &transaction{
		from:  addr,
		utf8:  opts.UTF8,
		size:  opts.Size,
		envID: opts.EnvelopeID,
		ret:   string(opts.Return),
	}
	ss.mu.Unlock()
	return nil
}

// Rcpt adds a recipient (RFC 5321 4.1.1.3). go-smtp has already enforced the
// recipient limit (452 4.5.3) and the DSN parameter syntax.
func (ss *session) Rcpt(to string, opts *gosmtp.RcptOptions) error {
	if ss.c.expired() {
		return ss.timeout("rcpt")
	}
	if !ss.s.begin() {
		return reply(smtp.ShuttingDown())
	}
	defer ss.s.end()
	ss.mu.Lock()
	tx := ss.tx
	account := ss.account
	ss.mu.Unlock()
	if tx == nil {
		return reply(smtp.NewReply(503, smtp.EnhancedCode{5, 5, 1}, "MAIL first"))
	}
	addr, err := smtp.ParseAddress(to)
	if err != nil {
		return ss.refuse("rcpt", smtp.BadRecipientSyntax().WithCause(err))
	}
	if !addr.IsASCII() && !tx.utf8 {
		return ss.refuse("rcpt", smtp.UTF8Required())
	}
	r, err := ss.s.opts.Deliverer.CheckRecipient(ss.ctx(), addr, delivery.RcptPolicy{
		Relay: account != nil,
		Size:  tx.size,
	})
	if err != nil {
		return ss.refuse("rcpt", asReply(err))
	}
	if len(opts.Notify) > 0 {
		n := make([]string, len(opts.Notify))
		for i, v := range opts.Notify {
			n[i] = string(v)
		}
		r.Notify = strings.Join(n, ",")
	}
	if opts.OriginalRecipient != "" {
		r.ORcpt = strings.ToLower(string(opts.OriginalRecipientType)) + ";" + opts.OriginalRecipient
	}
	ss.mu.Lock()
	if ss.tx == tx {
		tx.rcpts = append(tx.rcpts, r)
	}
	ss.mu.Unlock()
	return nil
}

// timeout refuses a command read from a line that timed out (see conn.Read)
// with 421 and ends the connection.
func (ss *session) timeout(cmd string) error {
	ss.c.hangUp()
	return ss.refuse(cmd, smtp.Timeout())
}

// refuse logs a refusal and converts it for go-smtp.
func (ss *session) refuse(cmd string, r *smtp.Reply) error {
	level := slog.LevelInfo
	if r.Code == 451 || r.Code == 421 || r.Enhanced == (smtp.EnhancedCode{4, 3, 1}) {
		level = slog.LevelWarn
	}
	ss.log.Log(ss.ctx(), level, "refused", "cmd", cmd, "reply", r)
	return reply(r)
}

// asReply turns any error into a reply; errors that are not replies are
// internal and become 451 without revealing their text.
func asReply(err error) *smtp.Reply {
	var r *smtp.Reply
	if errors.As(err, &r) {
		return r
	}
	return smtp.LocalError().WithCause(err)
}

// reply converts our reply to go-smtp's, which writes Code, EnhancedCode and
// Message verbatim.
func reply(r *smtp.Reply) error {
	e := &gosmtp.SMTPError{Code: r.Code, Message: r.Text}
	if !r.Enhanced.IsZero() {
		e.EnhancedCode = gosmtp.EnhancedCode(r.Enhanced)
	}
	return e
}

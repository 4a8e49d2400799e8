package smtpserver

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gannet/internal/delivery"
	"gannet/internal/smtp"
)

// Recipient harvesting limits, after Postfix's smtpd_soft_error_limit (10),
// smtpd_hard_error_limit (20) and smtpd_error_sleep_time: from the soft limit
// on, each refused recipient is answered after a delay that grows by
// harvestStep; at the hard limit the client gets 421 4.7.0 and is
// disconnected. A sender with a typo or two never gets near them.
const (
	harvestSoft = 10
	harvestHard = 20
	harvestStep = 250 * time.Millisecond
)

// mail starts a transaction (RFC 5321 4.1.1.2).
func (c *conn) mail(arg string) {
	switch {
	case c.sess.helo == "":
		c.reply(502, smtp.EnhancedCode{5, 5, 1}, "Please introduce yourself first")
		return
	case c.sess.tx != nil:
		// RFC 5321 4.1.4: MAIL inside a transaction is out of sequence.
		c.reply(503, smtp.EnhancedCode{5, 5, 1}, "Nested MAIL command")
		return
	}
	rest, ok := cutPrefixFold(arg, "FROM:")
	if !ok {
		c.reply(501, smtp.EnhancedCode{5, 5, 2}, "Syntax: MAIL FROM:<address>")
		return
	}
	path, params, err := smtp.ParsePath(strings.TrimLeft(rest, " "))
	if err != nil {
		c.reply(501, smtp.EnhancedCode{5, 5, 2}, "Syntax: MAIL FROM:<address>")
		return
	}
	mp, rep := smtp.ParseMailParams(params, c.s.opts.MaxMessageBytes, false)
	if rep != nil {
		c.refuse("mail", rep)
		return
	}
	if !c.s.begin() {
		c.replyR(smtp.ShuttingDown())
		return
	}
	defer c.s.end()
	account := c.sess.account
	if c.s.opts.Mode == Submission && account == nil {
		c.refuse("mail", smtp.AuthRequired())
		return
	}
	var addr smtp.Address
	if path != "" {
		if addr, err = smtp.ParseAddress(path); err != nil {
			c.refuse("mail", smtp.BadSenderSyntax().WithCause(err))
			return
		}
		// RFC 6531 3.4: a non-ASCII address needs MAIL ... SMTPUTF8.
		if !addr.IsASCII() && !mp.UTF8 {
			c.refuse("mail", smtp.UTF8Required())
			return
		}
	}
	if account != nil {
		if err := c.s.opts.Deliverer.CheckSender(c.ctx, account, addr); err != nil {
			c.refuse("mail", asReply(err))
			return
		}
	}
	if rep := c.s.checkSpace(); rep != nil {
		c.refuse("mail", rep)
		return
	}
	tx := &transaction{from: addr, params: mp}
	if c.s.opts.Mode == MX && account == nil && !addr.IsNull() {
		local := false
		if !addr.IsLiteral() {
			if local, err = c.s.opts.Store.IsLocalDomain(c.ctx, addr.ASCIIDomain()); err != nil {
				c.refuse("mail", smtp.LocalError().WithCause(fmt.Errorf("check sender domain: %w", err)))
				return
			}
		}
		tx.limitDSN = !local
	}
	c.sess.tx = tx
	c.reply(250, smtp.EnhancedCode{2, 0, 0}, "OK")
}

// rcpt adds a recipient (RFC 5321 4.1.1.3).
func (c *conn) rcpt(arg string) {
	tx := c.sess.tx
	switch {
	case tx == nil:
		c.reply(502, smtp.EnhancedCode{5, 5, 1}, "Missing MAIL FROM command")
		return
	case tx.bdat != nil:
		c.reply(503, smtp.EnhancedCode{5, 5, 1}, "RCPT not allowed during message transfer")
		return
	}
	rest, ok := cutPrefixFold(arg, "TO:")
	if !ok {
		c.reply(501, smtp.EnhancedCode{5, 5, 2}, "Syntax: RCPT TO:<address>")
		return
	}
	path, params, err := smtp.ParsePath(strings.TrimLeft(rest, " "))
	if err != nil || path == "" {
		c.badRcpt(smtp.NewReply(501, smtp.EnhancedCode{5, 5, 2}, "Syntax: RCPT TO:<address>"))
		return
	}
	if len(tx.rcpts) >= c.s.opts.MaxRecipients {
		c.replyR(smtp.TooManyRecipients())
		return
	}
	rp, rep := smtp.ParseRcptParams(params)
	if rep != nil {
		c.refuse("rcpt", rep)
		return
	}
	if !c.s.begin() {
		c.replyR(smtp.ShuttingDown())
		return
	}
	defer c.s.end()
	var addr smtp.Address
	if !strings.Contains(path, "@") && strings.EqualFold(path, "postmaster") {
		// RFC 5321 4.1.1.3: "<Postmaster>" without a domain MUST be
		// accepted; it goes where postmaster@ our oldest domain goes.
		d := c.s.oldestDomain(c.ctx)
		if d == "" {
			c.badRcpt(smtp.NoSuchUser())
			return
		}
		addr = smtp.Address{Local: path, Domain: d}
	} else if addr, err = smtp.ParseAddress(path); err != nil {
		c.badRcpt(smtp.BadRecipientSyntax().WithCause(err))
		return
	}
	if !addr.IsASCII() && !tx.params.UTF8 {
		c.refuse("rcpt", smtp.UTF8Required())
		return
	}
	r, err := c.s.opts.Deliverer.CheckRecipient(c.ctx, addr, delivery.RcptPolicy{
		Relay: c.sess.account != nil,
		Size:  tx.params.Size,
	})
	if err != nil {
		rep := asReply(err)
		if rep.Permanent() {
			c.badRcpt(rep)
		} else {
			c.refuse("rcpt", rep)
		}
		return
	}
	r.Notify, r.ORcpt = rp.Notify, rp.ORcpt
	if tx.limitDSN {
		r.Notify = withoutSuccess(r.Notify)
	}
	tx.rcpts = append(tx.rcpts, r)
	c.reply(250, smtp.EnhancedCode{2, 0, 0}, "OK")
}

// withoutSuccess removes SUCCESS from a NOTIFY list; NOTIFY=SUCCESS alone
// becomes NEVER (the sender asked for no failure notice either).
func withoutSuccess(notify string) string {
	if notify == "" || notify == "NEVER" {
		return notify
	}
	var keep []string
	for _, k := range strings.Split(notify, ",") {
		if k != "SUCCESS" {
			keep = append(keep, k)
		}
	}
	if len(keep) == 0 {
		return "NEVER"
	}
	return strings.Join(keep, ",")
}

// badRcpt answers a refused recipient and applies the harvesting limits.
func (c *conn) badRcpt(rep *smtp.Reply) {
	c.sess.badRcpts++
	n := c.sess.badRcpts
	if n > harvestSoft {
		// Send what is pending first, so that the delay is the client's to
		// wait, not a stall of replies it already earned.
		c.flush()
		c.s.sleep(c.ctx, time.Duration(n-harvestSoft)*harvestStep)
	}
	c.refuse("rcpt", rep)
	if n >= harvestHard {
		c.log.Warn("too many refused recipients", "count", n)
		c.reply(421, smtp.EnhancedCode{4, 7, 0}, "Too many errors, closing connection")
		c.closed = true
	}
}

// refuse logs a refusal and writes it.
func (c *conn) refuse(cmd string, r *smtp.Reply) {
	level := slog.LevelInfo
	if r.Code == 451 || r.Code == 421 || r.Enhanced == (smtp.EnhancedCode{4, 3, 1}) {
		level = slog.LevelWarn
	}
	c.log.Log(c.ctx, level, "refused", "cmd", cmd, "reply", r)
	c.replyR(r)
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

// cutPrefixFold is strings.CutPrefix, ignoring ASCII case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

package smtpserver

import (
	"context"
	"fmt"
	"time"

	"gannet/internal/delivery"
	"gannet/internal/mailauth"
	"gannet/internal/smtp"
)

// deliver hands a received message to the Deliverer and writes the one reply
// to DATA or BDAT LAST: 250 with the message id once it is durable, or the
// refusal.
func (c *conn) deliver(tx *transaction, msg []byte) {
	if !c.s.begin() {
		c.replyR(smtp.ShuttingDown())
		return
	}
	defer c.s.end()
	d := c.s.opts.Deliverer
	account := c.sess.account
	if c.s.opts.Mode == Submission {
		if account == nil {
			c.refuse("data", smtp.AuthRequired())
			return
		}
		var err error
		if msg, err = d.PrepareSubmission(c.ctx, account, msg); err != nil {
			c.refuse("data", asReply(err))
			return
		}
	}
	junk := false
	if c.s.opts.Mode == MX && account == nil && c.s.opts.Checker != nil {
		var rep *smtp.Reply
		if msg, junk, rep = c.authCheck(tx, msg); rep != nil {
			c.refuse("data", rep)
			return
		}
	}
	ret := tx.params.Ret
	if tx.limitDSN {
		// RFC 3461 4.3 lets us return headers only; see limitDSN.
		ret = "HDRS"
	}
	env := &delivery.Envelope{
		Junk:       junk,
		From:       tx.from,
		Recipients: tx.rcpts,
		Account:    account,
		UTF8:       tx.params.UTF8,
		EnvID:      tx.params.EnvID,
		Ret:        ret,
		Trace: delivery.Trace{
			Helo:     c.sess.helo,
			RemoteIP: c.ip,
			TLS:      c.tls,
			ESMTP:    c.sess.esmtp,
		},
	}
	out, err := d.Deliver(c.ctx, env, msg)
	if err != nil {
		c.refuse("data", asReply(err))
		return
	}
	if rep := out.Reply(); rep != nil {
		c.refuse("data", rep)
		return
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
	c.log.Info("delivered", args...)
	c.reply(250, smtp.EnhancedCode{2, 0, 0}, "OK: message accepted, id "+out.ID)
}

// authCheckTimeout bounds the DNS work of SPF, DKIM and DMARC for one message.
const authCheckTimeout = 20 * time.Second

// authCheck runs the inbound checks and returns the message stamped with
// Authentication-Results (forged ones claiming our name removed, RFC 8601 5),
// whether DMARC asks for quarantine, or a refusal when DMARC says reject: 550
// 5.7.1 at the end of DATA (RFC 7489 6.7, 7.3).
func (c *conn) authCheck(tx *transaction, msg []byte) ([]byte, bool, *smtp.Reply) {
	ch := c.s.opts.Checker
	ctx, cancel := context.WithTimeout(c.ctx, authCheckTimeout)
	defer cancel()
	from := ""
	if !tx.from.IsNull() {
		from = tx.from.String()
	}
	res := ch.Check(ctx, mailauth.Input{RemoteIP: c.ip, Helo: c.sess.helo, MailFrom: from, Raw: msg})
	c.log.Info("authentication", "spf", res.SPF.Status, "dmarc", res.DMARC.Status, "disposition", res.Disposition.String())
	if res.Disposition == mailauth.Reject {
		return nil, false, smtp.NewReply(550, smtp.EnhancedCode{5, 7, 1}, "Message rejected by the sender domain's DMARC policy").
			WithCause(fmt.Errorf("dmarc %s for %s", res.DMARC.Status, res.DMARC.From))
	}
	return ch.Stamp(msg, res), res.Disposition == mailauth.Quarantine, nil
}

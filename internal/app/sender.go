package app

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"gannet/internal/delivery"
	"gannet/internal/smtp"
	"gannet/internal/webmail"
)

// submitSender sends webmail messages through the same path as SMTP submission:
// sender checks, Date/Message-ID completion, DKIM signing, local delivery and
// the queue for remote recipients.
type submitSender struct {
	a *App
}

func (s submitSender) Send(ctx context.Context, accountID int64, from string, rcpts []string, raw []byte) error {
	d := s.a.Deliverer
	acct, err := s.a.Store.AccountByID(ctx, accountID)
	if err != nil {
		return err
	}
	fromAddr, err := smtp.ParseAddress(from)
	if err != nil {
		return &webmail.SendError{Public: "invalid sender address", Err: err}
	}
	if err := d.CheckSender(ctx, acct, fromAddr); err != nil {
		return public(err)
	}
	msg, err := d.PrepareSubmission(ctx, acct, raw)
	if err != nil {
		return public(err)
	}
	env := &delivery.Envelope{
		From:    fromAddr,
		Account: acct,
		Trace:   delivery.Trace{Helo: "webmail", RemoteIP: netip.IPv6Loopback(), ESMTP: true},
	}
	for _, r := range rcpts {
		addr, err := smtp.ParseAddress(r)
		if err != nil {
			return &webmail.SendError{Public: fmt.Sprintf("invalid recipient address %q", r), Err: err}
		}
		rc, err := d.CheckRecipient(ctx, addr, delivery.RcptPolicy{Relay: true, Size: int64(len(msg))})
		if err != nil {
			return public(fmt.Errorf("%s: %w", r, err))
		}
		env.Recipients = append(env.Recipients, rc)
	}
	out, err := d.Deliver(ctx, env, msg)
	if err != nil {
		return err
	}
	if !out.Accepted() {
		return public(out.Reply())
	}
	for i, res := range out.Results {
		if res.Err != nil {
			return &webmail.SendError{Public: fmt.Sprintf("not delivered to %s: %s", rcpts[i], res.Err.Text), Err: res.Err}
		}
	}
	return nil
}

// public turns an SMTP refusal into text the user may see (replies carry only
// client-safe text; causes stay in the log).
func public(err error) error {
	var r *smtp.Reply
	if errors.As(err, &r) {
		return &webmail.SendError{Public: r.Text, Err: err}
	}
	return err
}

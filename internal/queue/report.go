package queue

import (
	"context"

	"gannet/internal/delivery"
	"gannet/internal/smtpclient"
	"gannet/internal/store"
)

var _ delivery.Reporter = (*Queue)(nil)

// Report implements delivery.Reporter: recipients that failed after the SMTP
// server had already accepted the message (a quota race, one member of an
// alias failing: only one reply follows DATA, RFC 5321 4.1.1.4) get the same
// RFC 3464 failure DSN as a remote refusal, and local deliveries asked for with
// NOTIFY=SUCCESS get a "delivered" DSN (RFC 3461 5.2.2): one report per action.
// Like every DSN here, it goes to the sender's INBOX when the sender is a
// local account, and by mail otherwise (report).
func (q *Queue) Report(ctx context.Context, r delivery.Report) error {
	m := &store.QueuedMessage{From: r.From, AccountID: r.AccountID, EnvID: r.EnvID, Ret: r.Ret, Size: int64(len(r.Raw)), Created: q.now()}
	for _, action := range []string{actionFailed, actionDelivered} {
		var rcpts []reportRcpt
		for _, s := range r.Recipients {
			if s.Action != action || s.Reply == nil {
				continue
			}
			rr := reportRcpt{
				rcpt:        store.QueuedRecipient{Address: s.Address, ORcpt: s.ORcpt},
				reply:       smtpclient.Reply{Code: s.Reply.Code, Enhanced: s.Reply.Enhanced.String(), Text: s.Reply.Text, Local: action == actionDelivered},
				lastAttempt: q.now(),
			}
			if action == actionFailed {
				rr.mta = q.hostname
			}
			rcpts = append(rcpts, rr)
		}
		if len(rcpts) > 0 {
			q.report(ctx, m, r.Raw, action, rcpts, q.now())
		}
	}
	return nil
}

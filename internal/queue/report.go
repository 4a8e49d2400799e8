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
// RFC 3464 failure DSN as a remote refusal. Success notices (NOTIFY=SUCCESS on
// local delivery) are not reported yet: the DSN builder has no "delivered"
// action.
func (q *Queue) Report(ctx context.Context, r delivery.Report) error {
	var rcpts []reportRcpt
	for _, s := range r.Recipients {
		if s.Action != actionFailed || s.Reply == nil {
			continue
		}
		rcpts = append(rcpts, reportRcpt{
			rcpt:        store.QueuedRecipient{Address: s.Address, ORcpt: s.ORcpt},
			reply:       smtpclient.Reply{Code: s.Reply.Code, Enhanced: s.Reply.Enhanced.String(), Text: s.Reply.Text},
			mta:         q.hostname,
			lastAttempt: q.now(),
		})
	}
	if len(rcpts) == 0 {
		return nil
	}
	m := &store.QueuedMessage{From: r.From, AccountID: r.AccountID, EnvID: r.EnvID, Ret: r.Ret, Size: int64(len(r.Raw))}
	q.report(ctx, m, r.Raw, actionFailed, rcpts, q.now())
	return nil
}

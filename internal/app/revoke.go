package app

import (
	"context"
	"time"
)

// revokeInterval is how often the revocation watcher asks the store what
// changed. The bound is "within a second" of the change; a poll every
// 250 ms is one indexed read of a small table, cheap enough to run always.
const revokeInterval = 250 * time.Millisecond

// sessionEnder is a server that can end every live session of one account:
// IMAP (BYE), POP3 (-ERR, no UPDATE state), SMTP submission (421) and the
// webmail (its sessions and event streams).
type sessionEnder interface {
	EndAccount(accountID int64) int
}

// watchRevocations ends the sessions of every account that was deleted,
// disabled or given a new password, by this process or any other on the same
// store (an admin command beside the running server), until ctx ends.
//
// Why a poll and not the change feed: the feed is in-process, and the store's
// AuthChanges list is written in the same transaction as the account change,
// so it also carries what other processes did. A session that is ended
// re-checks nothing itself; its client logs in again and meets the new state.
func (a *App) watchRevocations(ctx context.Context) {
	cursor, _, err := a.Store.AuthChanges(ctx, -1)
	for err != nil {
		a.Log.Warn("revocation watcher: cannot read the store; retrying", "err", err)
		if !sleepCtx(ctx, time.Second) {
			return
		}
		cursor, _, err = a.Store.AuthChanges(ctx, -1)
	}
	t := time.NewTicker(revokeInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next, ids, err := a.Store.AuthChanges(ctx, cursor)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !failing {
				a.Log.Warn("revocation watcher: cannot read the store", "err", err)
				failing = true
			}
			continue
		}
		failing = false
		cursor = next
		for _, id := range ids {
			if n := a.EndAccount(id); n > 0 {
				a.Log.Info("sessions ended: account deleted, disabled or password changed", "account_id", id, "sessions", n)
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

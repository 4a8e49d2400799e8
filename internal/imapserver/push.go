package imapserver

import (
	"gannet/internal/store"
)

// dispatch reads the store's change feed for every account and kicks the
// sessions whose selected mailbox changed (RFC 9051 7.4 and 7.5: mailbox
// size and message status updates). It never blocks on a session and never
// does I/O on a connection except setting a read deadline.
func (s *Server) dispatch(sub store.Subscription) {
	defer close(s.feedDone)
	defer sub.Close()
	for {
		select {
		case <-s.ctx.Done():
			return
		case _, ok := <-sub.C():
			if !ok {
				return
			}
		}
		changes, overflowed := sub.Next()
		s.mu.RLock()
		if overflowed {
			// Changes were dropped: every session resyncs from the store.
			for _, set := range s.byAccount {
				for c := range set {
					c.kick()
				}
			}
		}
		for _, ch := range changes {
			for c := range s.byAccount[ch.AccountID] {
				if c.selID.Load() == ch.MailboxID {
					c.kick()
				}
			}
		}
		s.mu.RUnlock()
	}
}

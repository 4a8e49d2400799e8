package webmail

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"gannet/internal/store"
)

const (
	eventHeartbeat  = 25 * time.Second // keeps proxies and NATs from dropping the stream
	eventWriteLimit = 30 * time.Second // one event write; a stuck client is dropped
	eventMinGap     = 100 * time.Millisecond
	maxEventUIDs    = 1000
)

// changeJSON is one store change as the UI sees it.
type changeJSON struct {
	MailboxID int64    `json:"mailboxId"`
	Kind      string   `json:"kind"`           // new, flags, expunge, mailbox
	UIDs      []uint32 `json:"uids,omitempty"` // omitted when unknown or too many
}

// eventJSON is the data of a "change", "hello" or "resync" event: the
// mailbox list with its counts, and what changed.
type eventJSON struct {
	Mailboxes []mailboxJSON `json:"mailboxes"`
	Changes   []changeJSON  `json:"changes,omitempty"`
}

// handleEvents streams server-sent events (text/event-stream) from the
// store's change feed for the session's account:
//
//	hello   on connect: the mailbox list; the client (re)loads its view
//	change  after any committed change: mailbox counts and what changed
//	resync  the feed overflowed: the client reloads everything
//	bye     the server is shutting down ("shutdown") or the session ended
//	        ("logout": logged out, on any node, expired, or its account
//	        deleted, disabled or given a new password)
//
// The subscription is taken before hello, so nothing committed after the
// client's reload can be missed.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	ctx := r.Context()
	rc := http.NewResponseController(w)
	sub := s.opts.Store.Subscribe(sess.accountID)
	defer sub.Close()
	// The server's read timeout would end the stream: the client sends
	// nothing more after its request.
	rc.SetReadDeadline(time.Time{})

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	send := func(event string, data any) error {
		b, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		rc.SetWriteDeadline(time.Now().Add(eventWriteLimit))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return fmt.Errorf("write event: %w", err)
		}
		return rc.Flush()
	}
	withMailboxes := func(event string, changes []changeJSON) error {
		list, err := s.mailboxList(ctx, sess.accountID)
		if err != nil {
			return err
		}
		return send(event, eventJSON{Mailboxes: list, Changes: changes})
	}

	rc.SetWriteDeadline(time.Now().Add(eventWriteLimit))
	fmt.Fprint(w, "retry: 2000\n\n")
	if err := withMailboxes("hello", nil); err != nil {
		s.log.Debug("event stream ended", "err", err)
		return
	}
	beat := time.NewTicker(eventHeartbeat)
	defer beat.Stop()
	// Ended here at once; ended on another node: seen by the poll.
	ended, unwatch := s.sessions.watch(sess)
	defer unwatch()
	check := time.NewTicker(streamCheck)
	defer check.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.streams.Done():
			send("bye", map[string]string{"reason": "shutdown"})
			return
		case <-ended:
			send("bye", map[string]string{"reason": "logout"})
			return
		case <-check.C:
			live, err := s.sessions.alive(ctx, sess)
			if err != nil {
				// The store cannot tell now: keep the stream, ask again.
				s.log.Debug("event stream: session check failed", "err", err)
				continue
			}
			if !live {
				send("bye", map[string]string{"reason": "logout"})
				return
			}
		case <-beat.C:
			// EndAccount ends the stream at once when the account is
			// deleted, disabled or its password changed; this re-check is
			// the fallback should no one call it.
			if err := s.checkAccount(ctx, sess); err != nil {
				send("bye", map[string]string{"reason": "logout"})
				return
			}
			rc.SetWriteDeadline(time.Now().Add(eventWriteLimit))
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		case _, ok := <-sub.C():
			if !ok {
				return
			}
			// Bound the rate of events (and of the mailbox-count queries
			// behind them) under a flood of changes; changes keep queueing
			// in the subscription meanwhile.
			if wait := eventMinGap - time.Since(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return
				}
			}
			changes, overflowed := sub.Next()
			if err := s.checkAccount(ctx, sess); err != nil {
				send("bye", map[string]string{"reason": "logout"})
				return
			}
			var err error
			switch {
			case overflowed:
				err = withMailboxes("resync", nil)
			case len(changes) > 0:
				err = withMailboxes("change", toChangeJSON(changes))
			}
			if err != nil {
				s.log.Debug("event stream ended", "err", err)
				return
			}
			last = time.Now()
		}
	}
}

// toChangeJSON merges changes of one kind to one mailbox.
func toChangeJSON(changes []store.Change) []changeJSON {
	var out []changeJSON
	index := map[[2]int64]int{}
	for _, c := range changes {
		k := [2]int64{c.MailboxID, int64(c.Kind)}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, changeJSON{MailboxID: c.MailboxID, Kind: c.Kind.String(), UIDs: []uint32{}})
		}
		if out[i].UIDs == nil {
			continue // already too many or unknown
		}
		if len(c.UIDs) == 0 || len(out[i].UIDs)+len(c.UIDs) > maxEventUIDs {
			out[i].UIDs = nil
			continue
		}
		out[i].UIDs = append(out[i].UIDs, c.UIDs...)
	}
	return out
}

package imapserver

import (
	"slices"

	"gannet/internal/store"
)

// \Recent (RFC 3501 2.3.2), for IMAP4rev1 sessions only: IMAP4rev2 (RFC
// 9051) removed it, and a session that ENABLEs IMAP4rev2 sees none. The
// store keeps, per mailbox, the lowest UID no session has been given yet
// (store.RecentStore); a read-write session claims the messages from there
// up to what it knows when it selects the mailbox and again each time it
// is told of new messages, so each message is recent to exactly one
// session. A read-only (EXAMINE) session claims nothing and sees as recent
// what no session has claimed yet, without taking it. Recent UIDs are kept
// as ranges, so a mailbox that arrives whole (an import) costs a range,
// not a UID each.

// recentFlag is the flag FETCH adds for a recent message.
const recentFlag = `\Recent`

// takeRecent adds to s.recent the mailbox's recent messages from `from`
// up to below (exclusive), claiming them unless the session is read-only.
// A store failure is logged and gives nothing: \Recent is advisory, never
// a reason to fail a command.
func (c *conn) takeRecent(s *selected, from, below uint32) {
	if c.rev2 || from >= below {
		return
	}
	st := c.srv.opts.Store
	var mark uint32
	var err error
	if s.readOnly {
		mark, _, err = st.RecentMark(c.ctx, c.acct.ID, s.id)
	} else {
		mark, err = st.ClaimRecent(c.ctx, c.acct.ID, s.id, below)
	}
	if err != nil {
		c.log.Warn("recent messages", "err", err)
		return
	}
	lo := max(mark, from)
	if lo >= below {
		return
	}
	if n := len(s.recent); n > 0 && s.recent[n-1].Hi+1 >= lo {
		s.recent[n-1].Hi = max(s.recent[n-1].Hi, below-1)
		return
	}
	s.recent = append(s.recent, store.UIDRange{Lo: lo, Hi: below - 1})
}

// isRecent reports whether uid is recent to this session.
func (s *selected) isRecent(uid uint32) bool {
	i, _ := slices.BinarySearchFunc(s.recent, uid, func(r store.UIDRange, u uint32) int {
		switch {
		case r.Hi < u:
			return -1
		case r.Lo > u:
			return 1
		}
		return 0
	})
	return i < len(s.recent) && s.recent[i].Lo <= uid && uid <= s.recent[i].Hi
}

// recentCount is how many messages the session knows are recent: the
// RECENT response (RFC 3501 7.3.2).
func (s *selected) recentCount() uint32 {
	n := 0
	for _, r := range s.recent {
		lo, _ := slices.BinarySearch(s.uids, r.Lo)
		hi, found := slices.BinarySearch(s.uids, r.Hi)
		if found {
			hi++
		}
		n += hi - lo
	}
	return uint32(n)
}

// withRecent returns flags with \Recent added when uid is recent to the
// session (never under IMAP4rev2).
func (c *conn) withRecent(uid uint32, flags []string) []string {
	if c.rev2 || c.sel == nil || !c.sel.isRecent(uid) {
		return flags
	}
	return append(slices.Clip(flags), recentFlag)
}

// writeRecent writes "* N RECENT".
func (c *conn) writeRecent() {
	w := c.out()
	w.Untagged()
	w.Number(c.sel.recentCount())
	w.Atom("RECENT")
	w.CRLF()
}

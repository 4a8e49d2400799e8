package imapserver

import (
	"errors"
	"slices"
	"sort"

	"gannet/internal/imapwire"
	"gannet/internal/store"
)

// selected is the state of the selected mailbox (RFC 9051 3.3): the UIDs the
// client knows, in sequence-number order, and what was last reported.
//
// Invariants: uids is strictly ascending; reported[u] is the highest MODSEQ
// of UID u the client was told about or caused, kept only while it is above
// since (a change at or below since is never reported again, so an older
// note says nothing): a million-message mailbox costs its 4 MB of UIDs and
// nothing per message beyond (docs/ARCHITECTURE.md, "Huge mailboxes");
// since is the mailbox HIGHESTMODSEQ up to which changes were taken in; every
// UID in gone is in uids (expunged in the store, not yet announced).
type selected struct {
	id          int64
	name        string
	readOnly    bool
	uidValidity uint32
	uids        []uint32
	reported    map[uint32]uint64
	since       uint64
	gone        []uint32 // ascending
	// recent are the UIDs recent to this session, ascending disjoint
	// ranges (recent.go).
	recent store.UIDSet
	// keywords the session has announced in FLAGS, by lower-case name
	// (keywords.go).
	keywords map[string]string
}

// seqOf returns the sequence number of uid, or 0.
func (s *selected) seqOf(uid uint32) uint32 {
	i, ok := slices.BinarySearch(s.uids, uid)
	if !ok {
		return 0
	}
	return uint32(i + 1)
}

// maxUID is the highest UID the client knows, 0 for an empty mailbox.
func (s *selected) maxUID() uint32 {
	if len(s.uids) == 0 {
		return 0
	}
	return s.uids[len(s.uids)-1]
}

func (s *selected) count() uint32 { return uint32(len(s.uids)) }

// seqSet converts a sequence-number set to the UIDs it names, as ranges
// that are exact against the store (the UIDs between two known ones are all
// known). It fails for a number above the message count (RFC 9051 9,
// seq-number).
func (s *selected) seqSet(set imapwire.SeqSet) (store.UIDSet, error) {
	n := s.count()
	if set.Highest(n) > n {
		return nil, errBad("", "Invalid message sequence number")
	}
	out := store.UIDSet{}
	for _, r := range set.Resolve(n) {
		if r.Start == 0 {
			continue
		}
		out = append(out, store.UIDRange{Lo: s.uids[r.Start-1], Hi: s.uids[r.Stop-1]})
	}
	return out, nil
}

// uidSet converts a UID set, "*" being the highest known UID (RFC 9051
// 6.4.9); with an empty mailbox it names nothing.
func (s *selected) uidSet(set imapwire.SeqSet) store.UIDSet {
	out := store.UIDSet{}
	for _, r := range set.Resolve(s.maxUID()) {
		out = append(out, store.UIDRange{Lo: r.Start, Hi: r.Stop})
	}
	return out
}

// numSet resolves a command's set argument ("$" included, RFC 5182) to UIDs.
func (c *conn) numSet(ns imapwire.NumSet, uid bool) (store.UIDSet, error) {
	s := c.sel
	var out store.UIDSet
	if ns.Set != nil || !ns.Saved {
		var err error
		if uid {
			out = s.uidSet(ns.Set)
		} else if out, err = s.seqSet(ns.Set); err != nil {
			return nil, err
		}
	}
	if ns.Saved {
		for _, u := range c.saved {
			out = append(out, store.UIDRange{Lo: u, Hi: u})
		}
	}
	if out == nil {
		out = store.UIDSet{}
	}
	return out, nil
}

// known filters messages to those the client knows (new ones are announced
// first by EXISTS), keeping their order.
func (s *selected) known(msgs []store.Message) []store.Message {
	out := msgs[:0]
	for _, m := range msgs {
		if s.seqOf(m.UID) != 0 {
			out = append(out, m)
		}
	}
	return out
}

// noteReported records that the client knows uid at modseq.
func (s *selected) noteReported(uid uint32, modseq uint64) {
	if modseq <= s.since || modseq <= s.reported[uid] || s.seqOf(uid) == 0 {
		return
	}
	if s.reported == nil {
		s.reported = map[uint32]uint64{}
	}
	s.reported[uid] = modseq
}

// advance moves since forward and forgets the notes it makes useless.
func (s *selected) advance(since uint64) {
	if since <= s.since {
		return
	}
	s.since = since
	for u, m := range s.reported {
		if m <= since {
			delete(s.reported, u)
		}
	}
}

// markGone queues the expunge of uids the client knows.
func (s *selected) markGone(uids []uint32) {
	for _, u := range uids {
		if s.seqOf(u) == 0 {
			continue
		}
		if i, ok := slices.BinarySearch(s.gone, u); !ok {
			s.gone = slices.Insert(s.gone, i, u)
		}
	}
}

// sync brings the client up to date with the selected mailbox (RFC 9051
// 7.4, 7.5): queued and new expunges (only when expunge is true; RFC 9051
// 7.5.1), new messages (EXISTS) and flag changes (FETCH, with MODSEQ under
// CONDSTORE, RFC 7162 3.2). It asks the store only when the mailbox changed.
func (c *conn) sync(expunge bool) error {
	s := c.sel
	if s == nil {
		return nil
	}
	if c.kicked.Swap(false) {
		ch, err := c.srv.opts.Store.Changes(c.ctx, c.acct.ID, s.id, s.since)
		if errors.Is(err, store.ErrNotFound) {
			return errGone
		}
		if err != nil {
			c.kicked.Store(true) // try again later
			c.log.Error("sync selected mailbox", "err", err)
			return nil
		}
		s.markGone(ch.Vanished)
		if expunge {
			c.announceGone()
		}
		// New messages: UIDs above the highest known, ascending.
		old := len(s.uids)
		max := s.maxUID()
		for _, m := range ch.Changed {
			if m.UID > max {
				s.uids = append(s.uids, m.UID)
			}
		}
		w := c.out()
		if len(s.uids) != old {
			w.Untagged()
			w.Number(s.count())
			w.Atom("EXISTS")
			w.CRLF()
			if !c.rev2 {
				// The new messages are recent to the first session told
				// of them (RFC 3501 2.3.2, 7.3.2).
				c.takeRecent(s, max+1, s.maxUID()+1)
				c.writeRecent()
			}
		}
		for _, m := range ch.Changed {
			i, ok := slices.BinarySearch(s.uids, m.UID)
			if !ok || i >= old || m.ModSeq <= s.reported[m.UID] {
				continue
			}
			if _, isGone := slices.BinarySearch(s.gone, m.UID); isGone {
				continue
			}
			c.writeFlags(uint32(i+1), m.UID, m.Flags, m.ModSeq, true)
		}
		s.advance(ch.HighestModSeq)
		return w.Err()
	}
	if expunge {
		c.announceGone()
	}
	return nil
}

// writeFlags writes an unsolicited or STORE FETCH response: FLAGS, with UID
// (RFC 9051 7.5.2 lets any item be added; QRESYNC needs it, RFC 7162 3.2.4)
// and MODSEQ under CONDSTORE.
func (c *conn) writeFlags(seq, uid uint32, flags []string, modseq uint64, withFlags bool) {
	if withFlags {
		c.announceKeywords(flags)
	}
	w := c.out()
	w.Untagged()
	w.Number(seq)
	w.Atom("FETCH")
	w.BeginList()
	w.Atom("UID")
	w.Number(uid)
	if withFlags {
		w.Atom("FLAGS")
		w.Flags(c.withRecent(uid, flags))
	}
	if c.condstore {
		w.Atom("MODSEQ")
		w.BeginList()
		w.Number64(modseq)
		w.EndList()
	}
	w.EndList()
	w.CRLF()
}

// announceGone sends the queued expunges: one VANISHED under QRESYNC (RFC
// 7162 3.2.10), else EXPUNGE for each, highest sequence number first so that
// each number is valid when it is read (RFC 9051 7.5.1).
func (c *conn) announceGone() {
	s := c.sel
	if len(s.gone) == 0 {
		return
	}
	w := c.out()
	if c.qresync {
		var set imapwire.SeqSet
		set.AddNum(s.gone...)
		w.Untagged()
		w.Atom("VANISHED")
		w.SeqSet(set)
		w.CRLF()
	} else {
		for i := len(s.gone) - 1; i >= 0; i-- {
			w.Untagged()
			w.Number(s.seqOf(s.gone[i]))
			w.Atom("EXPUNGE")
			w.CRLF()
		}
	}
	// Remove them in one pass.
	j, g := 0, 0
	for _, u := range s.uids {
		if g < len(s.gone) && s.gone[g] == u {
			g++
			delete(s.reported, u)
			continue
		}
		s.uids[j] = u
		j++
	}
	s.uids = s.uids[:j]
	s.gone = s.gone[:0]
	// SEARCHRES keeps only what still exists (RFC 5182 2.1).
	if len(c.saved) > 0 {
		c.saved = slices.DeleteFunc(c.saved, func(u uint32) bool { return s.seqOf(u) == 0 })
	}
}

// unselect leaves the selected state without announcing anything.
func (c *conn) unselect() {
	c.sel = nil
	c.saved = nil
	c.selID.Store(0)
	c.kicked.Store(false)
	if c.state == stateSelected {
		c.state = stateAuth
	}
}

// sortUIDs sorts and deduplicates.
func sortUIDs(u []uint32) []uint32 {
	sort.Slice(u, func(i, j int) bool { return u[i] < u[j] })
	return slices.Compact(u)
}

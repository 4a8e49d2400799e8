package imapserver

import (
	"gannet/internal/imapwire"
	"gannet/internal/store"
)

// searchNumSet resolves a sequence-set search key. Unlike FETCH or STORE,
// where a number above the message count is an error (BAD, RFC 9051 9), a
// search key names the messages it matches: the numbers that are not in
// the mailbox match nothing, so "SEARCH 1000" in a mailbox of ten answers
// an empty result, as Dovecot does, instead of failing the command.
func (c *conn) searchNumSet(ns imapwire.NumSet) (store.UIDSet, error) {
	if ns.Set != nil {
		n := c.sel.count()
		clipped := imapwire.SeqSet{}
		for _, r := range ns.Set.Resolve(n) {
			if r.Start > n {
				continue
			}
			clipped.AddRange(r.Start, min(r.Stop, n))
		}
		ns.Set = clipped
		if len(clipped) == 0 && !ns.Saved {
			return store.UIDSet{}, nil
		}
	}
	return c.numSet(ns, false)
}

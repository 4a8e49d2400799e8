package imapserver

import (
	"gannet/internal/store"
)

// cmdStatus is STATUS (RFC 9051 6.3.11) with SIZE, DELETED, HIGHESTMODSEQ
// (RFC 7162 3.1.9) and APPENDLIMIT (RFC 7889).
func (c *conn) cmdStatus(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	name, err := p.Mailbox()
	if err != nil {
		return err
	}
	if err := p.SP(); err != nil {
		return err
	}
	items, err := parseStatusItems(p)
	if err != nil {
		return err
	}
	if err := p.End(); err != nil {
		return err
	}
	mb, err := c.srv.opts.Store.Mailbox(c.ctx, c.acct.ID, name)
	if err != nil {
		return storeErr(err)
	}
	c.writeStatus(mb, items)
	return c.out().Err()
}

// writeStatus writes "* STATUS name (items)".
func (c *conn) writeStatus(mb *store.Mailbox, items []string) {
	w := c.out()
	w.Untagged()
	w.Atom("STATUS")
	w.Mailbox(mb.Name)
	w.BeginList()
	for _, it := range items {
		w.Atom(it)
		switch it {
		case "MESSAGES":
			w.Number64(uint64(mb.Messages))
		case "UIDNEXT":
			w.Number(mb.UIDNext)
		case "UIDVALIDITY":
			w.Number(mb.UIDValidity)
		case "UNSEEN":
			w.Number64(uint64(mb.Unseen))
		case "DELETED":
			w.Number64(uint64(mb.Deleted))
		case "SIZE":
			w.Number64(uint64(mb.Size))
		case "HIGHESTMODSEQ":
			w.Number64(mb.HighestModSeq)
		case "RECENT":
			// The messages no session has been given as recent yet
			// (recent.go); 0 for IMAP4rev2, which has no \Recent.
			var n uint32
			if !c.rev2 {
				if _, cnt, err := c.srv.opts.Store.RecentMark(c.ctx, c.acct.ID, mb.ID); err == nil {
					n = cnt
				}
			}
			w.Number(n)
		case "APPENDLIMIT":
			w.Number64(uint64(c.srv.opts.MaxLiteral))
		}
	}
	w.EndList()
	w.CRLF()
}

package imapserver

import (
	"errors"

	"gannet/internal/imapwire"
	"gannet/internal/store"
)

// cmdCopy is COPY and UID COPY (RFC 9051 6.4.7) with COPYUID (RFC 4315 3).
func (c *conn) cmdCopy(cmd *command) error {
	set, dst, err := c.parseCopy(cmd)
	if err != nil {
		return err
	}
	if len(set) == 0 {
		return nil
	}
	res, err := c.srv.opts.Store.Copy(c.ctx, c.acct.ID, c.sel.id, set, dst.ID)
	if err != nil {
		return storeErr(err)
	}
	if dst.ID == c.sel.id {
		c.kicked.Store(true)
	}
	cmd.code = copyUIDCode(res)
	return nil
}

// parseCopy reads "set SP mailbox" of COPY and MOVE and finds the target
// (RFC 9051 6.4.7: NO [TRYCREATE] when it does not exist).
func (c *conn) parseCopy(cmd *command) (store.UIDSet, *store.Mailbox, error) {
	p := cmd.p
	if err := p.SP(); err != nil {
		return nil, nil, err
	}
	ns, err := p.SeqSet()
	if err != nil {
		return nil, nil, err
	}
	if err := p.SP(); err != nil {
		return nil, nil, err
	}
	name, err := p.Mailbox()
	if err != nil {
		return nil, nil, err
	}
	if err := p.End(); err != nil {
		return nil, nil, err
	}
	set, err := c.numSet(ns, cmd.uid)
	if err != nil {
		return nil, nil, err
	}
	dst, err := c.srv.opts.Store.Mailbox(c.ctx, c.acct.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errNo("TRYCREATE", "No such mailbox")
	}
	if err != nil {
		return nil, nil, storeErr(err)
	}
	return set, dst, nil
}

// copyUIDCode is "COPYUID uidvalidity src dst" (RFC 4315 3), or "" when
// nothing was copied.
func copyUIDCode(res *store.CopyResult) string {
	if res == nil || len(res.SrcUIDs) == 0 {
		return ""
	}
	var src, dst imapwire.SeqSet
	src.AddNum(res.SrcUIDs...)
	dst.AddNum(res.DstUIDs...)
	return "COPYUID " + uitoa(res.UIDValidity) + " " + src.String() + " " + dst.String()
}

package imapserver

import (
	"gannet/internal/imapwire"
)

// writeQuota writes "* QUOTA "" (...)" for the account's one quota root
// "" (RFC 9208 5.1): STORAGE in units of 1024 octets, rounded up, and
// MESSAGE; a resource without a limit is not listed.
func (c *conn) writeQuota() error {
	acct, err := c.srv.opts.Store.AccountByID(c.ctx, c.acct.ID)
	if err != nil {
		return storeErr(err)
	}
	w := c.out()
	w.Untagged()
	w.Atom("QUOTA")
	w.String("")
	w.BeginList()
	if acct.QuotaBytes > 0 {
		w.Atom("STORAGE")
		w.Number64(uint64((max(acct.UsedBytes, 0) + 1023) / 1024))
		w.Number64(uint64(acct.QuotaBytes / 1024))
	}
	if acct.QuotaMessages > 0 {
		w.Atom("MESSAGE")
		w.Number64(uint64(max(acct.UsedMessages, 0)))
		w.Number64(uint64(acct.QuotaMessages))
	}
	w.EndList()
	return w.CRLF()
}

// quotaRoot reads a quota root name; the only root is "".
func quotaRoot(p *imapwire.Parser) (string, error) {
	if err := p.SP(); err != nil {
		return "", err
	}
	return p.AString()
}

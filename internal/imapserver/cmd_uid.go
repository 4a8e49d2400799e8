package imapserver

import "strconv"

// cmdUID is the UID prefix (RFC 9051 6.4.9): FETCH, STORE, SEARCH, COPY,
// MOVE (RFC 6851) and EXPUNGE (RFC 4315) with UIDs instead of sequence
// numbers. Unlike their plain forms they allow EXPUNGE responses.
func (c *conn) cmdUID(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	kw, err := p.Keyword()
	if err != nil {
		return err
	}
	cmd.uid = true
	cmd.name = kw
	switch kw {
	case "FETCH":
		return c.cmdFetch(cmd)
	case "STORE":
		return c.cmdStore(cmd)
	case "SEARCH":
		return c.cmdSearch(cmd)
	case "COPY":
		return c.cmdCopy(cmd)
	case "MOVE":
		return c.cmdMove(cmd)
	case "EXPUNGE":
		return c.cmdExpunge(cmd)
	}
	return p.Fail("unknown UID command")
}

func uitoa(n uint32) string  { return strconv.FormatUint(uint64(n), 10) }
func utoa64(n uint64) string { return strconv.FormatUint(n, 10) }

package imapserver

import (
	"strconv"

	"gannet/internal/imapwire"
	"gannet/internal/sasl"
)

// capabilities are the server's fixed capability atoms (RFC 9051 7.2.2).
type capabilities struct {
	base []string
}

func newCapabilities(o Options) capabilities {
	return capabilities{base: []string{
		"IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE",
		"NAMESPACE", "UIDPLUS", "MULTIAPPEND", "MOVE", "UNSELECT", "CHILDREN", "SPECIAL-USE", "CREATE-SPECIAL-USE",
		"LIST-EXTENDED", "LIST-STATUS", "CONDSTORE", "QRESYNC", "ESEARCH", "SEARCHRES",
		"WITHIN", "STATUS=SIZE", "QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE",
		"APPENDLIMIT=" + strconv.FormatInt(o.MaxLiteral, 10),
		"UTF8=ACCEPT", "BINARY",
	}}
}

// writeCaps writes the capability atoms for the connection's state: before
// login STARTTLS (when it can be used) and either the SASL mechanisms or
// LOGINDISABLED (RFC 9051 6.2.3, 7.2.2).
func (c *conn) writeCaps(w *imapwire.Writer) {
	for _, a := range c.srv.caps.base {
		w.Atom(a)
	}
	if c.acct != nil {
		w.Atom("UNAUTHENTICATE") // RFC 8437: offered once logged in
		return
	}
	if c.srv.opts.TLS != nil && !c.tls {
		w.Atom("STARTTLS")
	}
	if c.secure() {
		w.Atom("AUTH=" + sasl.SCRAMSHA256)
		w.Atom("AUTH=PLAIN")
		w.Atom("AUTH=LOGIN")
	} else {
		w.Atom("LOGINDISABLED")
	}
}

// capCode writes the CAPABILITY response code (RFC 9051 7.1).
func (c *conn) capCode(w *imapwire.Writer) {
	w.BeginCode("CAPABILITY")
	c.writeCaps(w)
	w.EndCode()
}

// cmdCapability is CAPABILITY (RFC 9051 6.1.1).
func (c *conn) cmdCapability(cmd *command) error {
	if err := cmd.p.End(); err != nil {
		return err
	}
	w := c.out()
	w.Untagged()
	w.Atom("CAPABILITY")
	c.writeCaps(w)
	return w.CRLF()
}

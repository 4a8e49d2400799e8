package imapserver

import "gannet/internal/store"

// cmdNamespace is NAMESPACE (RFC 2342, RFC 9051 6.3.10): one personal
// namespace with prefix "" and separator "/", no other users', no shared.
func (c *conn) cmdNamespace(cmd *command) error {
	if err := cmd.p.End(); err != nil {
		return err
	}
	w := c.out()
	w.Untagged()
	w.Atom("NAMESPACE")
	w.BeginList()
	w.BeginList()
	w.String("")
	w.String(store.Separator)
	w.EndList()
	w.EndList()
	w.NIL()
	w.NIL()
	return w.CRLF()
}

package imapserver

// cmdID is ID (RFC 2971): the client's fields are read and ignored; the
// server names itself and nothing more (no version: client text reveals
// nothing internal).
func (c *conn) cmdID(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	if !p.AcceptWord("NIL") {
		n := 0
		err := p.List(func() error {
			n++
			if n > 60 { // RFC 2971 3.3: at most 30 pairs
				return p.Fail("too many ID fields")
			}
			_, _, err := p.NString()
			return err
		})
		if err != nil {
			return err
		}
		if n%2 != 0 {
			return p.Fail("ID fields come in pairs")
		}
	}
	if err := p.End(); err != nil {
		return err
	}
	w := c.out()
	w.Untagged()
	w.Atom("ID")
	w.BeginList()
	w.String("name")
	w.String("Gannet")
	w.EndList()
	return w.CRLF()
}

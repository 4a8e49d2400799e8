package imapserver

import "strings"

// cmdEnable is ENABLE (RFC 5161, RFC 9051 6.3.1): CONDSTORE, QRESYNC (which
// implies CONDSTORE, RFC 7162 3.2.3), IMAP4rev2 and UTF8=ACCEPT (RFC 6855 3).
// Unknown capabilities are ignored; "* ENABLED" lists those newly enabled.
func (c *conn) cmdEnable(cmd *command) error {
	p := cmd.p
	var names []string
	for {
		if err := p.SP(); err != nil {
			return err
		}
		a, err := p.Atom()
		if err != nil {
			return err
		}
		names = append(names, a)
		if p.AtEnd() {
			break
		}
	}
	if err := p.End(); err != nil {
		return err
	}
	var enabled []string
	for _, n := range names {
		switch strings.ToUpper(n) {
		case "CONDSTORE":
			if !c.condstore {
				c.enableCondstore()
				enabled = append(enabled, "CONDSTORE")
			}
		case "QRESYNC":
			if !c.qresync {
				c.qresync = true
				c.enableCondstore()
				enabled = append(enabled, "QRESYNC")
			}
		case "IMAP4REV2":
			if !c.rev2 {
				c.rev2 = true
				c.setUTF8()
				enabled = append(enabled, "IMAP4rev2")
			}
		case "UTF8=ACCEPT":
			if !c.utf8 {
				c.setUTF8()
				enabled = append(enabled, "UTF8=ACCEPT")
			}
		}
	}
	w := c.out()
	w.Untagged()
	w.Atom("ENABLED")
	for _, e := range enabled {
		w.Atom(e)
	}
	return w.CRLF()
}

// setUTF8 switches mailbox names and quoted strings to UTF-8 (RFC 6855 3,
// RFC 9051 6.3.1).
func (c *conn) setUTF8() {
	c.utf8 = true
	c.r.SetUTF8(true)
	if c.wr != nil {
		c.wr.SetUTF8(true)
	}
}

// enableCondstore turns CONDSTORE on (RFC 7162 3.1): from now on every FETCH
// response carries MODSEQ.
func (c *conn) enableCondstore() {
	c.condstore = true
}

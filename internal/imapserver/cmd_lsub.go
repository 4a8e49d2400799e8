package imapserver

// cmdLsub is LSUB (RFC 3501 6.3.9; deprecated by RFC 9051 in favour of
// LIST (SUBSCRIBED)): subscribed names that match.
func (c *conn) cmdLsub(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	ref, err := p.ListMailbox() // as LIST's (cmd_list.go)
	if err != nil {
		return err
	}
	if err := p.SP(); err != nil {
		return err
	}
	pat, err := p.ListMailbox()
	if err != nil {
		return err
	}
	if err := p.End(); err != nil {
		return err
	}
	o := listOptions{selSubscribed: true}
	return c.listMailboxes([]string{canonicalPattern(joinRef(ref, pat))}, o, "LSUB")
}

package imapserver

// cmdCheck is CHECK (RFC 3501 6.4.1; removed in RFC 9051 but kept for
// IMAP4rev1 clients): every write is already durable, so it is a NOOP.
func (c *conn) cmdCheck(cmd *command) error {
	return cmd.p.End()
}

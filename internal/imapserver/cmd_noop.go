package imapserver

// cmdNoop is NOOP (RFC 9051 6.1.2): it does nothing, and its tagged answer
// is preceded by the pending updates of the selected mailbox (run does that).
func (c *conn) cmdNoop(cmd *command) error {
	return cmd.p.End()
}

package imapserver

// cmdUnsubscribe is UNSUBSCRIBE (RFC 9051 6.3.8).
func (c *conn) cmdUnsubscribe(cmd *command) error { return c.subscribe(cmd, false) }

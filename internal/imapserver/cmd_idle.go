package imapserver

import (
	"strings"

	"gannet/internal/imapwire"
)

// cmdIdle is IDLE (RFC 2177, RFC 9051 6.3.13): updates of the selected
// mailbox are pushed as they happen (connReader sends them when the
// dispatcher kicks the session) until the client sends DONE.
func (c *conn) cmdIdle(cmd *command) error {
	if err := cmd.p.End(); err != nil {
		return err
	}
	if err := c.sync(true); err != nil {
		return err
	}
	c.idling.Store(true)
	defer c.idling.Store(false)
	if err := c.out().Continue("idling"); err != nil {
		return err
	}
	line, err := c.r.ReadLine()
	if err != nil {
		if imapwire.IsFatal(err) {
			return err
		}
		return errBad("", "Expected DONE")
	}
	if !strings.EqualFold(line, "DONE") {
		return errBad("", "Expected DONE")
	}
	return nil
}

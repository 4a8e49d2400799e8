package imapserver

import "time"

// cmdUnauthenticate is UNAUTHENTICATE (RFC 8437): the session goes back to
// the not-authenticated state on the same connection (and TLS), so that a
// client can log in as someone else without a new connection. RFC 8437 3:
// the selected mailbox is closed without expunging, as UNSELECT does;
// everything tied to the login ends (the session no longer hears of the
// account's changes, nor is it ended with it); the extensions enabled with
// ENABLE are off again, since they were enabled for that login. The
// pre-login limits and timers apply again (the BAD count, the pre-login
// autologout timer).
func (c *conn) cmdUnauthenticate(cmd *command) error {
	if err := cmd.p.End(); err != nil {
		return err
	}
	c.unselect()
	c.srv.unregister(c)
	c.srv.ns.LoggedIn(c.acc, 0, time.Time{})
	c.log.Debug("unauthenticated")
	c.acct = nil
	c.state = stateNotAuth
	c.log = c.baseLog
	c.rev2, c.condstore, c.qresync = false, false, false
	if c.utf8 {
		c.utf8 = false
		c.r.SetUTF8(false)
		if c.wr != nil {
			c.wr.SetUTF8(false)
		}
	}
	c.bad = 0
	return nil
}

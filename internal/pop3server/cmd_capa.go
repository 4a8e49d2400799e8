package pop3server

import (
	"strconv"
	"strings"
	"time"
)

// cmdCAPA lists the capabilities of the current state (RFC 2449 5). Before
// TLS, and outside dev-mode loopback, USER and SASL are not offered
// (RFC 2595 4): the client must STLS first.
func (c *conn) cmdCAPA(arg string) error {
	if err := noArgs(arg); err != nil {
		return err
	}
	c.reply("+OK capability list follows")
	caps := []string{
		"TOP",            // RFC 2449 6.1
		"UIDL",           // RFC 2449 6.8
		"RESP-CODES",     // RFC 2449 6.4
		"AUTH-RESP-CODE", // RFC 3206
		"PIPELINING",     // RFC 2449 6.6
		// RFC 2449 6.7: this server never expires messages by itself, whatever
		// the account's DELE policy (delete, archive or keep).
		"EXPIRE NEVER",
		"LOGIN-DELAY " + seconds(c.srv.opts.LoginDelay), // RFC 2449 6.5
		"IMPLEMENTATION Gannet",                         // RFC 2449 6.9, no version
	}
	if c.state == stateAuthorization {
		if !c.tls && c.srv.opts.TLS != nil {
			caps = append(caps, "STLS") // RFC 2595 4
		}
		if c.secure() {
			caps = append(caps, "USER", "SASL PLAIN LOGIN SCRAM-SHA-256") // RFC 2449 6.2, 6.3
		}
	}
	c.reply("%s", strings.Join(caps, "\r\n"))
	c.reply(".")
	return nil
}

// seconds renders a duration in whole seconds, rounded up.
func seconds(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

package pop3server

import (
	"fmt"

	"gannet/internal/netserver"
)

// cmdSTLS starts TLS on the connection (RFC 2595 4).
func (c *conn) cmdSTLS(arg string) error {
	if err := noArgs(arg); err != nil {
		return err
	}
	if c.tls {
		return &failure{text: "TLS already active", bad: true}
	}
	if c.srv.opts.TLS == nil {
		return &failure{text: "STLS not available", bad: true}
	}
	c.reply("+OK begin TLS negotiation")
	if err := c.w.Flush(); err != nil {
		return err
	}
	if n := c.r.Buffered(); n > 0 {
		// Bytes sent after STLS before the handshake were not protected; running
		// them as commands would let an attacker inject them (the STARTTLS
		// command injection flaw, CVE-2011-0411 for SMTP). Drop them.
		c.log.Warn("discarding plaintext sent after STLS", "octets", n)
	}
	// Under the short handshake deadline, not the autologout timer: garbage
	// or a stall after STLS must not hold the connection.
	tc, err := netserver.Handshake(c.ctx, c.raw, c.srv.opts.TLS, c.srv.opts.HandshakeTimeout)
	if err != nil {
		return fmt.Errorf("STLS handshake: %w", err)
	}
	c.nc = tc
	c.tls = true
	c.r.Reset(deadlineReader{c})
	c.w.Reset(deadlineWriter{c})
	// RFC 2595 4: the session starts again as if new; nothing said before TLS
	// carries over.
	c.user = ""
	return nil
}

package imapserver

import (
	"bufio"
	"errors"
	"fmt"

	"gannet/internal/imapwire"
	"gannet/internal/netserver"
)

// errInjection ends a connection that pipelined data after STARTTLS: it
// would otherwise be taken as sent over TLS (RFC 7817 4.1, CVE-2011-0411).
var errInjection = errors.New("data pipelined after STARTTLS")

// cmdStartTLS is STARTTLS (RFC 9051 6.2.1).
func (c *conn) cmdStartTLS(cmd *command) error {
	if err := cmd.p.End(); err != nil {
		return err
	}
	if c.srv.opts.TLS == nil || c.tls {
		return errNo("", "STARTTLS not available")
	}
	if c.br.Buffered() > 0 {
		return errInjection
	}
	cmd.done = true
	if err := c.out().Status(cmd.tag, "OK", "", "Begin TLS negotiation now"); err != nil {
		return err
	}
	if err := c.flush(true); err != nil {
		return err
	}
	// Under the short handshake deadline, not the pre-auth one: garbage or
	// a stall after STARTTLS must not hold the connection.
	tc, err := netserver.Handshake(c.ctx, c.raw, c.srv.opts.TLS, c.srv.opts.HandshakeTimeout)
	if err != nil {
		return fmt.Errorf("starttls handshake: %w", err)
	}
	c.nc = tc
	c.tls = true
	// A fresh reader: nothing read before the handshake may survive it.
	c.br = bufio.NewReaderSize(connReader{c}, readBufSize)
	c.r = imapwire.NewReader(c.br, c.readerOptions())
	return nil
}

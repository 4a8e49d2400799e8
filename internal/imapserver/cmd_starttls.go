package imapserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"gannet/internal/imapwire"
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
	tc := tls.Server(c.raw, c.srv.opts.TLS)
	ctx, cancel := context.WithTimeout(c.ctx, c.srv.opts.PreauthTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
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

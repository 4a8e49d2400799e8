package netserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// Handshake runs the server side of a TLS handshake over c (implicit TLS, or
// after STARTTLS/STLS) under a deadline of timeout (0 =
// DefaultHandshakeTimeout) and ctx: a client that stalls, trickles or sends
// garbage is cut then, however slowly its octets come. On error the caller
// closes c.
func Handshake(ctx context.Context, c net.Conn, cfg *tls.Config, timeout time.Duration) (*tls.Conn, error) {
	return handshake(ctx, tls.Server(c, cfg), timeout)
}

func handshake(ctx context.Context, tc *tls.Conn, timeout time.Duration) (*tls.Conn, error) {
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	// A deadline on the socket, not only on ctx: HandshakeContext alone
	// checks ctx between records, and one record may trickle in for long.
	tc.NetConn().SetDeadline(time.Now().Add(timeout))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	tc.NetConn().SetDeadline(time.Time{})
	return tc, nil
}

// tlsListener marks a listener whose connections start with TLS: a Server
// runs the handshake itself, after the PROXY header and the limits.
type tlsListener struct {
	net.Listener
	cfg *tls.Config
}

// TLSListener returns ln marked for implicit TLS (RFC 8314) with cfg, for a
// Server's Serve. Unlike tls.NewListener it lets the Server read a PROXY
// header first and bound the handshake with a deadline.
func TLSListener(ln net.Listener, cfg *tls.Config) net.Listener {
	return &tlsListener{Listener: ln, cfg: cfg}
}

// Package netserver is the one front door of every protocol server (SMTP MX
// and submission, IMAP, POP3, webmail, admin): it accepts connections, applies
// the shared connection limits, reads PROXY protocol headers from trusted load
// balancers, runs implicit TLS handshakes under a deadline, keeps a registry of
// live connections (counted per protocol, and per account for "end every
// session of account N"), recovers panics, and gives servers the
// Serve/Shutdown/Close semantics of http.Server.
//
// Two ways in:
//   - Listener wraps a net.Listener for servers that run their own accept loop
//     (net/http): its Accept returns only connections within the limits, with
//     the client's address as RemoteAddr.
//   - Server runs the accept loop and one goroutine per connection for the
//     line protocols (SMTP, IMAP, POP3), which supply a Session per connection.
//
// Invariants:
//   - Accept never spins: on EMFILE, ENFILE and every other error but a closed
//     listener it sleeps with a growing backoff (5 ms to 1 s), and logs once
//     per burst of failures, not once per attempt.
//   - Every connection handed out holds one slot of the shared
//     connlimit.Limiter, keyed by the client's address (after PROXY), and
//     gives it back exactly once, when it is closed. A refused connection
//     gets the protocol's refusal (Config.Refusal) under a short write
//     deadline, then is closed; refusals in progress are bounded.
//   - A PROXY header is read only from peers inside Config.TrustedProxies,
//     under a deadline, and is required from them; from anyone else the
//     octets are left for the protocol, which sees bad input.
//   - Nothing is done under a lock but bookkeeping: no I/O, no callbacks.
package netserver

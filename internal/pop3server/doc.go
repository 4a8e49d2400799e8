// Package pop3server is Gannet's POP3 server (RFC 1939) over the store, with
// CAPA and response codes (RFC 2449, RFC 3206), STLS (RFC 2595) and SASL AUTH
// with initial response (RFC 5034; PLAIN and LOGIN). The maildrop is the
// account's INBOX.
//
// Invariants:
//
//   - Message numbers are a snapshot taken at login (RFC 1939 5): the INBOX
//     messages not hidden by the "keep" policy, in UID order. Messages delivered
//     later appear in the next session; messages removed meanwhile by another
//     protocol stay listed, and RETR sends them while the store still has their
//     bytes, else answers -ERR.
//   - DELE only marks. Only QUIT in the TRANSACTION state (the UPDATE state,
//     RFC 1939 6) changes the store, in one store call chosen by the account's
//     POP3 policy: ExpungeUIDs (delete), Move to the \Archive mailbox (archive)
//     or SetPOPHidden (keep). A dropped connection, an idle timeout, a server
//     shutdown or Server.EndAccount (the account changed) commits nothing.
//   - One POP3 session per maildrop at a time: the lock is in-process, keyed by
//     account ID, taken after a successful login and released at QUIT or when
//     the connection ends; a second login gets -ERR [IN-USE] (RFC 2449 8.1.2).
//   - UIDL is "<INBOX UIDVALIDITY>.<UID>": stable for the life of the message in
//     INBOX, across sessions and restarts, unique within the maildrop.
//   - RETR and TOP send the stored bytes exactly, except that a bare LF becomes
//     CRLF, a missing final line break is added, and lines starting with "." are
//     dot-stuffed (RFC 1939 3). The size in STAT, LIST and the RETR reply is the
//     number of octets the client gets after un-stuffing, which is the same
//     function applied to the same bytes (wireSize). This package streams
//     message bytes from store.Open through a fixed buffer and never holds a
//     whole message (the store itself decompresses small inline messages at
//     once).
//   - Wire sizes are cached per Server by blob ID: blobs are content-addressed,
//     so a cached size never goes stale. The cache is bounded.
//   - Every read and write on a connection has a deadline (Options.Timeout,
//     RFC 1939 3 autologout). A panic in a connection is recovered at the top of
//     that connection only: logged with its stack, answered -ERR, closed.
//   - USER, PASS and AUTH are refused on a connection without TLS, except from
//     loopback when Options.Dev is set; CAPA then does not list USER or SASL.
//     Every login goes through the shared authlimit.Limiter. Passwords and SASL
//     payloads are never logged.
//   - Client text never reveals internal errors; causes are logged.
package pop3server

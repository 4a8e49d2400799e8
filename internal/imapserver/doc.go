// Package imapserver is Gannet's IMAP server: IMAP4rev1 (RFC 3501) and
// IMAP4rev2 (RFC 9051) with CONDSTORE/QRESYNC (RFC 7162), QUOTA (RFC 9208),
// UIDPLUS (RFC 4315), MOVE (RFC 6851), LIST-EXTENDED (RFC 5258), LIST-STATUS
// (RFC 5819), SPECIAL-USE (RFC 6154), ESEARCH (RFC 4731), SEARCHRES (RFC
// 5182), IDLE (RFC 2177), ID (RFC 2971), ENABLE (RFC 5161), LITERAL+ (RFC
// 7888), SASL-IR (RFC 4959), BINARY (RFC 3516), UTF8=ACCEPT (RFC 6855) and
// APPENDLIMIT (RFC 7889). The wire syntax is internal/imapwire's; this
// package gives it meaning, one file per command (cmd_*.go).
//
// # Goroutines and push
//
// Each connection is served by exactly one goroutine, which reads a command,
// runs it and writes the answer. One goroutine per Server (the dispatcher,
// push.go) reads the store's change feed for all accounts and marks the
// sessions whose selected mailbox changed (conn.kick). A session learns what
// changed by asking the store (Changes since the MODSEQ it has seen), never
// from the feed's payload, so a dropped notification (overflow) costs a
// resync, not a lost update. A session in IDLE is woken by setting its read
// deadline to now: its read hook (connReader) sees the timeout, sends the
// updates itself and reads on, so IDLE needs no second goroutine. Other
// sessions send updates when a command ends (RFC 9051 5.2, 7).
//
// # Sequence numbers
//
// The selected state (selected.go) keeps the UIDs the client knows, in
// order: sequence number n is uids[n-1]. It changes only on the session's
// goroutine, when the session announces EXISTS or EXPUNGE/VANISHED. An
// expunge seen while a command that uses sequence numbers runs (FETCH, STORE,
// SEARCH, COPY) is queued and announced at the end of a later command that
// allows it (RFC 9051 7.5.1).
//
// # Locking
//
// Listeners, connections, limits, PROXY headers, TLS handshakes, Shutdown,
// Close and EndAccount are internal/netserver's. Server.mu guards the
// per-account session index the dispatcher uses; it is never held during
// I/O. A conn's fields belong to its goroutine, except the atomics kick,
// idling, woken, ended and selID, which the dispatcher, Shutdown and
// EndAccount read or set. An ended session (EndAccount) reads and writes
// nothing more of its account: its running command's context is cancelled,
// and it sends only "* BYE".
//
// # Memory
//
// An idle connection holds a small read buffer, its selected state and no
// write buffer: the bufio.Writer comes from a pool while a command runs and
// goes back before the connection blocks on a read.
package imapserver

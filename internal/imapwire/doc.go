// Package imapwire is the IMAP wire codec: it reads client commands and writes
// server responses for IMAP4rev1 (RFC 3501) and IMAP4rev2 (RFC 9051) with the
// syntax of LITERAL+/LITERAL- (RFC 7888), UTF8=ACCEPT (RFC 6855), BINARY
// literal8 (RFC 3516), SEARCHRES "$" (RFC 5182) and 63-bit mod-sequences
// (RFC 7162). It knows syntax, never semantics: what a command means is the
// business of internal/imapserver, which pulls typed arguments from a Parser
// one at a time (recursive descent) and writes with a Writer.
//
// # Reading commands
//
// A Reader reads one command at a time (ReadCommand). The command's arguments
// are consumed through its Parser; the handler ends with Parser.End, which
// checks that nothing is left. Invariants:
//
//   - Bounded memory. A line (without its CRLF and without literal data) is at
//     most Options.MaxLine octets; a literal read into memory (String, AString,
//     NString, Mailbox, ...) is at most Options.MaxLiteral; all lines plus all
//     buffered literals of one command are at most Options.MaxCommand; lists
//     nest at most Options.MaxDepth deep. Literals streamed with
//     Parser.OpenLiteral (APPEND) are bounded by the caller's max instead and
//     are never buffered here.
//   - Synchronizing literals. Before the first octet of a synchronizing
//     literal "{n}" is read, the Reader calls Options.Continue, which must send
//     a command continuation request ("+ Ready for literal data", RFC 9051
//     7.6) and flush it; it runs on the reading goroutine, so the caller must
//     serialise it with its other writes. Continue is never called for a
//     literal that is refused (too large), for "{n+}" (RFC 7888), or for a
//     literal the handler never asks for.
//   - Errors are *Error values with a Kind. KindSyntax, KindLineTooLong and
//     KindLiteralTooLarge leave the connection usable: the server answers with
//     Error.Status and Error.Code (tagged if Error.Tag is set, else "* BAD"),
//     then calls Reader.Skip, which throws away the rest of the command: it
//     reads and discards non-synchronizing literals (up to
//     Options.MaxDiscard), and stops at a synchronizing literal whose
//     continuation was never sent, since the client will not send its data
//     after a tagged NO or BAD (RFC 9051 7.6). KindIO means the connection is
//     unusable (I/O error, EOF, a failed Continue, or a refused
//     non-synchronizing literal too large to discard): close it. An error
//     from Skip is always KindIO. ReadCommand skips an unfinished previous
//     command itself.
//   - Lines end in CRLF; a bare LF is accepted as well. NUL is never accepted
//     in a line. 8-bit octets are accepted only inside quoted strings, and
//     only when UTF-8 is enabled (RFC 6855 3, RFC 9051 4.3) and they form
//     valid UTF-8; literals may hold any octet but NUL (literal8 may hold NUL).
//   - Strings returned by the Parser are copies: they stay valid after the
//     next call. The io.Reader from OpenLiteral is valid only until the next
//     call on the Parser or Reader; unread literal data is discarded then.
//
// # Writing responses
//
// A Writer writes tokens separated by single spaces automatically (inside a
// line and inside lists), chooses atom, quoted or literal form for strings
// (RFC 9051 4.3), encodes ENVELOPE and BODY/BODYSTRUCTURE (RFC 9051 7.5.2)
// from internal/message types, and keeps the first write error (sticky) so a
// handler can check once with CRLF, Flush or Err. It never flushes on its own
// except for Continue.
//
// # Other codecs
//
// SeqSet parses and formats sequence sets (RFC 9051 9, "sequence-set"), with
// "*" held as 0; NumSet adds SEARCHRES "$". EncodeMailbox and DecodeMailbox
// convert mailbox names to and from modified UTF-7 (RFC 3501 5.1.3),
// rejecting every non-canonical form so that a decoded name encodes back to
// the same octets. FormatDateTime, ParseDateTime and ParseDate handle
// INTERNALDATE and SEARCH dates.
//
// Nothing in the package is shared between connections: a Reader, Parser or
// Writer belongs to one goroutine at a time; the functions are safe for
// concurrent use.
package imapwire

// Package smtp holds what the SMTP server and the SMTP client share: mailbox
// addresses as RFC 5321 4.1.2 (and RFC 6531 for SMTPUTF8) define them, typed
// replies with their basic and enhanced status codes (RFC 5321 4.2, RFC 3463),
// and the command codec: command lines, paths, and the ESMTP parameters of MAIL
// and RCPT (SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH=, NOTIFY, ORCPT).
//
// Invariants:
//   - An Address returned by ParseAddress is valid: a non-empty local part of at
//     most 64 octets without control characters, and a domain that is either a
//     valid (possibly internationalised) domain name or an address literal. Its
//     String form is the RFC 5321 Mailbox, quoting the local part when needed.
//   - A Reply's Text is what the client sees; it never carries internal detail.
//     The internal reason travels in Cause, which Error() leaves out and logs
//     show (LogValue).
//   - A parameter parser returns either the parameters or the reply that
//     refuses them (501 malformed value, 555 unknown parameter or a value on a
//     parameter that takes none, 552 SIZE over the limit); with a reply, the
//     parameters returned are not to be used.
//   - The package has no mutable state: the standard replies are functions that
//     return a fresh *Reply each time, so no caller can change another's reply.
package smtp

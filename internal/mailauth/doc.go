// Package mailauth authenticates inbound mail and signs outbound mail.
//
// Inbound, a Checker evaluates SPF (RFC 7208) on the SMTP envelope, verifies
// up to five DKIM signatures (RFC 6376, RFC 8463), evaluates the sender
// domain's DMARC policy (RFC 7489) from those results, and formats the
// Authentication-Results header field (RFC 8601) that records them.
// StripResults removes forged Authentication-Results fields that claim our
// authserv-id (RFC 8601 5).
//
// Outbound, GenerateKey and Selector make the per-domain Ed25519 and
// RSA-2048 keys, a Signer adds one DKIM-Signature per key, and DNSRecords
// lists every record a domain must publish (MX, SPF, DKIM, DMARC, MTA-STS,
// TLS-RPT and the RFC 6186 SRV records).
//
// Invariants:
//   - The package is a leaf: it imports no Gannet application package, holds
//     no package-level mutable state, and reaches the DNS only through the
//     Resolver it is given. A Checker and a Signer are immutable after
//     construction and safe for concurrent use.
//   - A DNS failure is never confused with a missing record: only errors the
//     resolver classifies as not-found (see Options.IsNotFound) count as
//     NXDOMAIN/NODATA; every other error yields temperror, so mail is never
//     rejected because the DNS was briefly unreachable.
//   - Message bytes are never rewritten except by StripResults, which removes
//     whole header fields and leaves every other byte as it was received, so
//     signatures over the remaining fields stay valid.
package mailauth

package message

import "time"

// Lenient parsers for other packages that read header fields after delivery
// (Sieve's address and date tests), so that they read headers exactly as the
// envelope and search do.

// ParseAddressList parses an address-list header value leniently (see
// parseAddressList): groups appear as Address{Mailbox: name} with no Host,
// followed by their members and an empty Address{}; a missing local part or
// domain reads as IsMissing reports.
func ParseAddressList(s string) []Address { return parseAddressList(s) }

// IsMissing reports whether a local part or domain is the placeholder the
// lenient address parser puts where the header had none.
func IsMissing(s string) bool { return s == missingMailbox || s == missingDomain }

// ParseDate parses a date-time header value (RFC 5322 3.3) leniently; it
// returns the zero time when nothing fits.
func ParseDate(s string) time.Time { return parseDate(s) }

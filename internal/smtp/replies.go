package smtp

// The standard replies Gannet sends. Each call returns a fresh *Reply; attach
// the internal reason with WithCause. Codes follow RFC 5321 4.2.2 and the
// enhanced codes RFC 3463 and the IANA registry (RFC 5248).

// ShuttingDown: the server is going away (RFC 5321 3.8).
func ShuttingDown() *Reply {
	return NewReply(421, EnhancedCode{4, 3, 2}, "Service shutting down, try again later")
}

// TooManyConnections: the client has too many connections open.
func TooManyConnections() *Reply {
	return NewReply(421, EnhancedCode{4, 7, 0}, "Too many connections from your address, try again later")
}

// Timeout: the client was too slow (RFC 5321 4.5.3.2).
func Timeout() *Reply {
	return NewReply(421, EnhancedCode{4, 4, 2}, "Timeout, closing connection")
}

// LocalError: something failed on our side; the client should retry.
func LocalError() *Reply {
	return NewReply(451, EnhancedCode{4, 3, 0}, "Local error in processing, try again later")
}

// InsufficientStorage: no room on disk for the message (RFC 5321 4.2.2 452,
// RFC 3463 3.4 X.3.1 "mail system full"); temporary, as space may be freed.
func InsufficientStorage() *Reply {
	return NewReply(452, EnhancedCode{4, 3, 1}, "Insufficient system storage, try again later")
}

// StoreError is the reply for a store failure: InsufficientStorage when the
// disk was full, LocalError otherwise.
func StoreError(err error, full bool) *Reply {
	if full {
		return InsufficientStorage().WithCause(err)
	}
	return LocalError().WithCause(err)
}

// TooManyRecipients: RFC 5321 4.5.3.1.10 says 452, and the client sends the
// rest in another transaction.
func TooManyRecipients() *Reply {
	return NewReply(452, EnhancedCode{4, 5, 3}, "Too many recipients")
}

// MailboxFull: over quota. Temporary, since mail may be deleted (RFC 3463 X.2.2).
func MailboxFull() *Reply {
	return NewReply(452, EnhancedCode{4, 2, 2}, "Mailbox full, try again later")
}

// NoSuchUser: unknown local recipient (RFC 3463 X.1.1).
func NoSuchUser() *Reply {
	return NewReply(550, EnhancedCode{5, 1, 1}, "No such user here")
}

// BadRecipientSyntax: a recipient address that does not parse (RFC 3463 X.1.3).
func BadRecipientSyntax() *Reply {
	return NewReply(501, EnhancedCode{5, 1, 3}, "Bad recipient address syntax")
}

// BadSenderSyntax: a sender address that does not parse (RFC 3463 X.1.7).
func BadSenderSyntax() *Reply {
	return NewReply(501, EnhancedCode{5, 1, 7}, "Bad sender address syntax")
}

// RelayDenied: a remote recipient from an unauthenticated client.
func RelayDenied() *Reply {
	return NewReply(554, EnhancedCode{5, 7, 1}, "Relay access denied")
}

// SenderNotOwned: an authenticated user sending as an address that is not theirs.
func SenderNotOwned() *Reply {
	return NewReply(550, EnhancedCode{5, 7, 1}, "Sender address not owned by authenticated user")
}

// AuthRequired: MAIL before AUTH on submission (RFC 4954 6).
func AuthRequired() *Reply {
	return NewReply(530, EnhancedCode{5, 7, 0}, "Authentication required")
}

// AuthFailed: wrong credentials (RFC 4954 6).
func AuthFailed() *Reply {
	return NewReply(535, EnhancedCode{5, 7, 8}, "Authentication credentials invalid")
}

// AuthTemporaryFailure: the credentials could not be checked now, or the client
// is blocked after too many failures (RFC 4954 6).
func AuthTemporaryFailure() *Reply {
	return NewReply(454, EnhancedCode{4, 7, 0}, "Temporary authentication failure, try again later")
}

// EncryptionRequired: AUTH on a connection without TLS (RFC 4954 6).
func EncryptionRequired() *Reply {
	return NewReply(538, EnhancedCode{5, 7, 11}, "Encryption required for requested authentication mechanism")
}

// AuthUnavailable: AUTH on a port that offers none (the MX).
func AuthUnavailable() *Reply {
	return NewReply(502, EnhancedCode{5, 5, 1}, "Authentication not available on this port")
}

// UnknownMechanism: an AUTH mechanism we do not offer (RFC 4954 4).
func UnknownMechanism() *Reply {
	return NewReply(504, EnhancedCode{5, 5, 4}, "Unrecognized authentication mechanism")
}

// MessageTooBig: over the size limit (RFC 1870 6.1, RFC 3463 X.3.4).
func MessageTooBig() *Reply {
	return NewReply(552, EnhancedCode{5, 3, 4}, "Message size exceeds fixed limit")
}

// BareLineEnding: a CR or LF that is not part of CRLF (RFC 5321 2.3.8). We
// refuse rather than normalise: such a message is how SMTP smuggling starts.
func BareLineEnding() *Reply {
	return NewReply(554, EnhancedCode{5, 6, 0}, "Message contains bare CR or LF line endings; lines must end with CRLF")
}

// LineTooLong: a line of the message longer than we accept.
func LineTooLong() *Reply {
	return NewReply(554, EnhancedCode{5, 6, 0}, "Message contains a line that is too long")
}

// UTF8Required: a non-ASCII address without MAIL ... SMTPUTF8 (RFC 6531 3.7.4.1).
func UTF8Required() *Reply {
	return NewReply(553, EnhancedCode{5, 6, 7}, "Non-ASCII address requires SMTPUTF8")
}

// LoopDetected: too many Received fields (RFC 5321 6.3, RFC 3463 X.4.6).
func LoopDetected() *Reply {
	return NewReply(554, EnhancedCode{5, 4, 6}, "Routing loop detected")
}

// BadHeader: the message header breaks a rule we enforce (RFC 3463 X.6.0).
func BadHeader(text string) *Reply {
	return NewReply(550, EnhancedCode{5, 6, 0}, text)
}

package smtpserver

import (
	"strconv"
	"strings"

	"gannet/internal/sasl"
	"gannet/internal/smtp"
)

// maxBadCommands: after this many unknown or malformed commands the client
// is told so and disconnected (what go-smtp did, and Postfix's
// smtpd_hard_error_limit in spirit).
const maxBadCommands = 3

// dispatch runs one command line.
func (c *conn) dispatch(line []byte) {
	verb, arg := smtp.ParseCommand(line)
	switch verb {
	case smtp.VerbEHLO, smtp.VerbHELO:
		c.hello(verb == smtp.VerbEHLO, arg)
	case smtp.VerbMAIL:
		c.mail(arg)
	case smtp.VerbRCPT:
		c.rcpt(arg)
	case smtp.VerbDATA:
		c.data(arg)
	case smtp.VerbBDAT:
		c.bdat(arg)
	case smtp.VerbRSET:
		// RFC 5321 4.1.1.5: RSET takes no argument, but refusing one helps
		// nobody.
		c.reset()
		c.reply(250, smtp.EnhancedCode{2, 0, 0}, "OK")
	case smtp.VerbNOOP:
		c.reply(250, smtp.EnhancedCode{2, 0, 0}, "OK")
	case smtp.VerbQUIT:
		c.reply(221, smtp.EnhancedCode{2, 0, 0}, "Bye")
		c.closed = true
	case smtp.VerbVRFY:
		// RFC 5321 3.5.3: 252 when we will not say.
		c.reply(252, smtp.EnhancedCode{2, 5, 0}, "Cannot VRFY user, but will accept message")
	case smtp.VerbAUTH:
		c.auth(arg)
	case smtp.VerbSTARTTLS:
		c.startTLS(arg)
	case "SEND", "SOML", "SAML", smtp.VerbEXPN, smtp.VerbHELP, "TURN":
		c.reply(502, smtp.EnhancedCode{5, 5, 1}, "Command not implemented")
	case "":
		c.badCommand("Error: bad syntax")
	default:
		c.badCommand("Command unrecognized")
	}
}

// badCommand answers an unknown or malformed command and disconnects after
// too many.
func (c *conn) badCommand(text string) {
	c.reply(500, smtp.EnhancedCode{5, 5, 2}, text)
	c.sess.badCmds++
	if c.sess.badCmds > maxBadCommands {
		c.reply(421, smtp.EnhancedCode{4, 7, 0}, "Too many errors, closing connection")
		c.closed = true
	}
}

// hello handles EHLO and HELO (RFC 5321 4.1.1.1): a new session state, as
// after RSET.
func (c *conn) hello(ehlo bool, arg string) {
	domain, _, _ := strings.Cut(arg, " ")
	if domain == "" {
		c.reply(501, smtp.EnhancedCode{5, 5, 2}, "Domain or address literal required")
		return
	}
	c.reset()
	c.sess.helo = domain
	c.sess.esmtp = ehlo
	if !ehlo {
		c.reply(250, smtp.EnhancedCode{}, c.s.opts.Hostname+" Hello "+domain)
		return
	}
	var sb strings.Builder
	sb.WriteString(c.s.opts.Hostname + " Hello " + domain)
	for _, ext := range []string{"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING"} {
		sb.WriteString("\n" + ext)
	}
	if c.s.opts.TLS != nil && c.tls == nil {
		sb.WriteString("\nSTARTTLS")
	}
	if mechs := c.authMechanisms(); len(mechs) > 0 {
		sb.WriteString("\nAUTH " + strings.Join(mechs, " "))
	}
	sb.WriteString("\nSMTPUTF8\nDSN\nSIZE " + strconv.FormatInt(c.s.opts.MaxMessageBytes, 10))
	sb.WriteString("\nLIMITS RCPTMAX=" + strconv.Itoa(c.s.opts.MaxRecipients))
	c.reply(250, smtp.EnhancedCode{}, sb.String())
}

// reset ends the transaction (RSET, EHLO, the end of a message).
func (c *conn) reset() {
	if tx := c.sess.tx; tx != nil && tx.bdat != nil {
		tx.bdat.release()
	}
	c.sess.tx = nil
	c.sess.bdatBytes = 0
}

// startTLS handles STARTTLS (RFC 3207).
func (c *conn) startTLS(arg string) {
	switch {
	case arg != "":
		// RFC 3207 4: "STARTTLS" with no parameters; 501 otherwise.
		c.reply(501, smtp.EnhancedCode{5, 5, 4}, "STARTTLS takes no parameters")
		return
	case c.tls != nil:
		c.reply(502, smtp.EnhancedCode{5, 5, 1}, "Already running in TLS")
		return
	case c.s.opts.TLS == nil:
		c.reply(502, smtp.EnhancedCode{5, 5, 1}, "TLS not supported")
		return
	}
	c.reply(220, smtp.EnhancedCode{2, 0, 0}, "Ready to start TLS")
	if c.flush() != nil {
		c.closed = true
		return
	}
	if !c.handshake() {
		c.closed = true
		return
	}
	// RFC 3207 4.2: forget everything learnt before TLS; the client must
	// say EHLO again.
	c.reset()
	c.sess = session{}
	c.setAccount(nil)
}

// authAllowed: AUTH only under TLS (RFC 8314, RFC 4954 4: no plaintext
// passwords in the clear), except from loopback in Dev mode.
func (c *conn) authAllowed() bool {
	return c.tls != nil || (c.s.opts.Dev && c.ip.IsLoopback())
}

// authMechanisms is what EHLO offers: nothing on the MX, and nothing before
// STARTTLS, so that clients are not tempted to send passwords in the clear.
func (c *conn) authMechanisms() []string {
	if c.s.opts.Mode != Submission || !c.authAllowed() {
		return nil
	}
	// SCRAM last: RFC 4954 gives the order no meaning, clients pick the
	// strongest they know.
	return []string{sasl.Plain, sasl.Login, sasl.SCRAMSHA256}
}

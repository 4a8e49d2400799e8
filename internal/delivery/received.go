package delivery

import (
	"bytes"
	"crypto/tls"
	"net/netip"
	"strings"
	"time"

	"gannet/internal/smtp"
)

// dateLayout is RFC 5322 3.3 date-time.
const dateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// receivedField builds our trace field (RFC 5321 4.4):
//
//	Received: from HELO (HELO [IP])
//		by HOSTNAME with ESMTPSA id ID
//		for <rcpt>
//		tls TLS_AES_128_GCM_SHA256 (TLS1.3);
//		DATE
//
// "with" is the RFC 3848 / RFC 6531 4.3 keyword; "tls" is the RFC 8314 4.3
// clause. "for" names the recipient only when there is one, so that a message
// to several recipients does not disclose Bcc recipients to the others.
func (d *Deliverer) receivedField(env *Envelope, id string, now time.Time) []byte {
	var b strings.Builder
	b.WriteString("Received: from ")
	helo := cleanHelo(env.Trace.Helo)
	switch {
	case !env.Trace.RemoteIP.IsValid():
		// No network client (a message made on this host): no TCP-info.
		if helo == "" {
			helo = "localhost"
		}
		b.WriteString(helo)
	case helo != "":
		b.WriteString(helo + " (" + helo + " [" + ipLiteral(env.Trace.RemoteIP) + "])")
	default:
		b.WriteString("[" + ipLiteral(env.Trace.RemoteIP) + "]")
		if env.Trace.Helo != "" {
			b.WriteString(" (helo=" + commentText(env.Trace.Helo) + ")")
		}
	}
	b.WriteString("\r\n\tby ")
	b.WriteString(d.hostname)
	if d.node != "" {
		b.WriteString(" (node " + d.node + ")")
	}
	b.WriteString(" with ")
	b.WriteString(protocol(env))
	b.WriteString(" id ")
	b.WriteString(id)
	if len(env.Recipients) == 1 {
		b.WriteString("\r\n\tfor ")
		b.WriteString(env.Recipients[0].Address.Path())
	}
	if t := env.Trace.TLS; t != nil {
		b.WriteString("\r\n\ttls ")
		b.WriteString(tls.CipherSuiteName(t.CipherSuite))
		b.WriteString(" (")
		b.WriteString(strings.ReplaceAll(tls.VersionName(t.Version), "TLS ", "TLS"))
		b.WriteString(")")
	}
	b.WriteString(";\r\n\t")
	b.WriteString(now.Format(dateLayout))
	b.WriteString("\r\n")
	return []byte(b.String())
}

// protocol is the "with" keyword: ESMTP plus S for TLS and A for
// authentication (RFC 3848), UTF8SMTP for SMTPUTF8 (RFC 6531 4.3), SMTP for HELO.
func protocol(env *Envelope) string {
	if env.Trace.Protocol != "" {
		return env.Trace.Protocol
	}
	p := "SMTP"
	switch {
	case env.UTF8:
		p = "UTF8SMTP"
	case env.Trace.ESMTP:
		p = "ESMTP"
	}
	if p == "SMTP" {
		return p // RFC 3848 defines S and A only for ESMTP
	}
	if env.Trace.TLS != nil {
		p += "S"
	}
	if env.Account != nil {
		p += "A"
	}
	return p
}

// ipLiteral formats an address literal's content (RFC 5321 4.1.3).
func ipLiteral(ip netip.Addr) string {
	if ip.Is4() || ip.Is4In6() {
		return ip.Unmap().String()
	}
	return "IPv6:" + ip.WithZone("").String()
}

// cleanHelo returns the HELO argument when it is a valid domain or address
// literal, else "" (then only the IP address appears as the from-domain).
func cleanHelo(h string) string {
	if h == "" || len(h) > smtp.MaxDomain || !isASCII(h) {
		return ""
	}
	if smtp.IsAddressLiteral(h) {
		return h
	}
	if _, err := smtp.ASCIIDomain(h); err == nil {
		return h
	}
	return ""
}

// commentText makes s safe inside an RFC 5322 comment: printable ASCII without
// parentheses or backslashes, at most 64 characters.
func commentText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 64; i++ {
		c := s[i]
		if c > ' ' && c < 0x7f && c != '(' && c != ')' && c != '\\' {
			b.WriteByte(c)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// returnPathField is added at final delivery (RFC 5321 4.4).
func returnPathField(env *Envelope) []byte {
	return []byte("Return-Path: " + env.From.Path() + "\r\n")
}

// countReceived counts the Received fields in the header, for loop detection
// (RFC 5321 6.3).
func countReceived(msg []byte) int {
	n := 0
	for len(msg) > 0 {
		line := msg
		i := bytes.IndexByte(msg, '\n')
		if i >= 0 {
			line, msg = msg[:i+1], msg[i+1:]
		} else {
			msg = nil
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break // end of header
		}
		if len(line) >= 9 && bytes.EqualFold(line[:9], []byte("received:")) {
			n++
		}
	}
	return n
}

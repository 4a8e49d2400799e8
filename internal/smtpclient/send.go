package smtpclient

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/net/idna"
)

// Envelope is one transaction's envelope (RFC 5321 2.3.1).
type Envelope struct {
	From string // reverse path; "" for the null sender (a bounce)
	To   []Recipient
	// RFC 3461 DSN parameters, sent only when the server offers DSN.
	EnvID string // ENVID, plain text (xtext-encoded here)
	Ret   string // RET: "FULL", "HDRS" or ""
}

// Recipient is one forward path with its DSN parameters (RFC 3461 4.1, 4.2).
type Recipient struct {
	Addr   string
	Notify string // "NEVER" or a comma list of SUCCESS, FAILURE, DELAY; "" = none
	// ORcpt is "addr-type;address" in plain text (e.g. "rfc822;bob@example.org");
	// the address is xtext-encoded here. A value without ";" means rfc822.
	ORcpt string
}

// Result is what a transaction got. Replies of steps that did not happen are
// zero (Code 0).
type Result struct {
	Mail Reply
	Rcpt []Reply // one per Envelope.To, in order
	Data Reply   // the reply to DATA when it was refused, else to the final "."
	// DSN reports that the server offered DSN, so NOTIFY/ORCPT went on to it
	// and it, not we, owes the sender any later notification (RFC 3461 5.2.2).
	DSN bool
	// DataSent reports that the final "." went out: after an error, the server
	// may or may not have taken the message (RFC 1047). Before it, nothing was
	// delivered and the message may be sent again at once on another session.
	DataSent bool
}

// Outcome is the reply that decided recipient i: MAIL's when MAIL failed, the
// RCPT reply when that refused the recipient, else the DATA reply.
func (r *Result) Outcome(i int) Reply {
	if r.Mail.Code != 0 && !r.Mail.Positive() {
		return r.Mail
	}
	if !r.Rcpt[i].Positive() {
		return r.Rcpt[i]
	}
	return r.Data
}

// Send runs one mail transaction with msg as content. An error means the
// session broke (I/O, protocol error, 421): the Client is then unusable and
// the message's fate is unknown if the error came after the final ".".
// Refusals are not errors: they are in Result.
func (c *Client) Send(ctx context.Context, env Envelope, msg []byte) (*Result, error) {
	res := &Result{Rcpt: make([]Reply, len(env.To))}
	if c.broken != nil {
		return res, c.broken
	}
	defer c.watch(ctx)()
	_, dsn := c.ext["DSN"]
	res.DSN = dsn
	_, utf8OK := c.ext["SMTPUTF8"]

	// Local checks first: nothing goes on the wire for a transaction that
	// cannot succeed.
	from, fromUTF8, err := wireAddr(env.From, utf8OK)
	if err != nil {
		res.Mail = Reply{Code: 553, Enhanced: "5.1.7", Text: err.Error(), Local: true}
		return res, nil
	}
	to := make([]string, len(env.To))
	needUTF8 := fromUTF8
	valid := 0
	for i, r := range env.To {
		a, u, err := wireAddr(r.Addr, utf8OK)
		if err != nil {
			// RFC 6531 3.5 / RFC 6533: a non-ASCII mailbox to a server without
			// SMTPUTF8 is a permanent 5.6.7; any other bad address 5.1.3.
			enh := "5.1.3"
			if err == errNeedUTF8 {
				enh = "5.6.7"
			}
			res.Rcpt[i] = Reply{Code: 553, Enhanced: enh, Text: err.Error(), Local: true}
			continue
		}
		to[i] = a
		needUTF8 = needUTF8 || u
		valid++
	}
	if fromUTF8 && !utf8OK {
		res.Mail = Reply{Code: 553, Enhanced: "5.6.7", Text: "sender address needs SMTPUTF8, which the server does not offer", Local: true}
		return res, nil
	}
	if valid == 0 {
		return res, nil
	}
	if max := parseSize(c.ext["SIZE"]); max > 0 && int64(len(msg)) > max {
		// RFC 1870 6: do not send a message the server declared too big.
		res.Mail = Reply{Code: 552, Enhanced: "5.3.4", Text: fmt.Sprintf("message of %d bytes exceeds the server's limit of %d", len(msg), max), Local: true}
		return res, nil
	}

	mail := "MAIL FROM:<" + from + ">"
	if _, ok := c.ext["SIZE"]; ok {
		mail += fmt.Sprintf(" SIZE=%d", len(msg))
	}
	if _, ok := c.ext["8BITMIME"]; ok && has8bit(msg) {
		// RFC 6152 2. Without 8BITMIME we send 8-bit data anyway, as most MTAs do,
		// rather than bounce or rewrite the MIME structure.
		mail += " BODY=8BITMIME"
	}
	if needUTF8 {
		mail += " SMTPUTF8" // RFC 6531 3.4
	}
	if dsn {
		if r := strings.ToUpper(env.Ret); r == "FULL" || r == "HDRS" {
			mail += " RET=" + r
		}
		if env.EnvID != "" {
			mail += " ENVID=" + xtext(env.EnvID)
		}
	}
	cmds := make([]string, 0, len(env.To)+3)
	reset := c.used
	if reset {
		// A reused session starts clean whatever the last transaction left
		// (RFC 5321 4.1.1.5); pipelined, it costs no round trip.
		cmds = append(cmds, "RSET")
	}
	cmds = append(cmds, mail)
	for i, r := range env.To {
		if to[i] == "" {
			continue
		}
		rcpt := "RCPT TO:<" + to[i] + ">"
		if dsn {
			if n := strings.ToUpper(strings.ReplaceAll(r.Notify, " ", "")); n != "" {
				rcpt += " NOTIFY=" + n
			}
			if r.ORcpt != "" {
				typ, addr, ok := strings.Cut(r.ORcpt, ";")
				if !ok {
					typ, addr = "rfc822", r.ORcpt
				}
				rcpt += " ORCPT=" + strings.TrimSpace(typ) + ";" + xtext(strings.TrimSpace(addr))
			}
		}
		cmds = append(cmds, rcpt)
	}
	c.used = true
	if _, ok := c.ext["PIPELINING"]; ok {
		return c.sendPipelined(res, reset, cmds, msg)
	}
	return c.sendLockstep(res, reset, cmds, msg)
}

// sendPipelined sends RSET, MAIL, RCPTs and DATA as one group (RFC 2920 3.1:
// DATA may end a group) and reads the replies in order.
func (c *Client) sendPipelined(res *Result, reset bool, cmds []string, msg []byte) (*Result, error) {
	for _, cmd := range cmds {
		if err := c.write("%s", cmd); err != nil {
			return res, err
		}
	}
	if err := c.write("DATA"); err != nil {
		return res, err
	}
	if err := c.flush(); err != nil {
		return res, err
	}
	if reset {
		r, err := c.read(c.to.Command)
		if err != nil {
			return res, err
		}
		if !r.Positive() {
			c.broken = &ReplyError{Command: "RSET", Reply: r}
			return res, c.broken
		}
	}
	var err error
	if res.Mail, err = c.read(c.to.Command); err != nil {
		return res, err
	}
	accepted := 0
	for i := range res.Rcpt {
		if res.Rcpt[i].Local {
			continue
		}
		if res.Rcpt[i], err = c.read(c.to.Command); err != nil {
			return res, err
		}
		if res.Rcpt[i].Positive() && res.Mail.Positive() {
			accepted++
		}
	}
	data, err := c.read(c.to.DataInit)
	if err != nil {
		return res, err
	}
	if data.Code != 354 {
		res.Data = data
		return res, nil
	}
	if accepted == 0 {
		// RFC 2920 3.1: the server accepted DATA though no recipient was
		// accepted; send an empty message ("."), which it must refuse.
		if err := c.write("."); err != nil {
			return res, err
		}
		if err := c.flush(); err != nil {
			return res, err
		}
		if _, err := c.read(c.to.DataTerm); err != nil {
			return res, err
		}
		return res, nil
	}
	return c.sendData(res, msg)
}

// sendLockstep is the classic exchange for servers without PIPELINING.
func (c *Client) sendLockstep(res *Result, reset bool, cmds []string, msg []byte) (*Result, error) {
	if reset {
		r, err := c.cmd(c.to.Command, "RSET")
		if err != nil {
			return res, err
		}
		if !r.Positive() {
			c.broken = &ReplyError{Command: "RSET", Reply: r}
			return res, c.broken
		}
		cmds = cmds[1:]
	}
	var err error
	if res.Mail, err = c.cmd(c.to.Command, "%s", cmds[0]); err != nil {
		return res, err
	}
	if !res.Mail.Positive() {
		return res, nil
	}
	cmds = cmds[1:]
	accepted := 0
	for i := range res.Rcpt {
		if res.Rcpt[i].Local {
			continue
		}
		if res.Rcpt[i], err = c.cmd(c.to.Command, "%s", cmds[0]); err != nil {
			return res, err
		}
		cmds = cmds[1:]
		if res.Rcpt[i].Positive() {
			accepted++
		}
	}
	if accepted == 0 {
		return res, nil
	}
	data, err := c.cmd(c.to.DataInit, "DATA")
	if err != nil {
		return res, err
	}
	if data.Code != 354 {
		res.Data = data
		return res, nil
	}
	return c.sendData(res, msg)
}

// sendData writes the content, dot-stuffed, and reads the final reply.
func (c *Client) sendData(res *Result, msg []byte) (*Result, error) {
	c.dc.timeout = c.to.DataBlock
	if err := c.fail(writeData(c.bw, msg)); err != nil {
		return res, err
	}
	if err := c.fail(c.bw.Flush()); err != nil {
		return res, err
	}
	res.DataSent = true
	c.dc.timeout = c.to.Command
	var err error
	if res.Data, err = c.read(c.to.DataTerm); err != nil {
		return res, err
	}
	return res, nil
}

// errNeedUTF8 marks an address whose local part is not ASCII, sent to a server
// without SMTPUTF8.
var errNeedUTF8 = fmt.Errorf("address needs SMTPUTF8, which the server does not offer")

// wireAddr checks an address and returns it as it goes on the wire, and
// whether it needs SMTPUTF8. A non-ASCII domain becomes its A-label form
// (RFC 5890) when that is all that stands between it and plain SMTP.
func wireAddr(addr string, utf8OK bool) (string, bool, error) {
	if addr == "" {
		return "", false, nil
	}
	if len(addr) > 320 {
		return "", false, fmt.Errorf("address too long")
	}
	for _, r := range addr {
		// Control characters, space and angle brackets would let an address
		// end the command early or add parameters or commands.
		if r < 0x21 || r == 0x7f || r == '<' || r == '>' {
			return "", false, fmt.Errorf("invalid character in address %q", addr)
		}
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "", false, fmt.Errorf("address %q has no domain", addr)
	}
	local, domain := addr[:at], addr[at+1:]
	if isASCII(local) && isASCII(domain) {
		return addr, false, nil
	}
	if utf8OK {
		return addr, true, nil
	}
	if !isASCII(local) {
		return "", false, errNeedUTF8
	}
	a, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", false, fmt.Errorf("invalid domain in %q: %v", addr, err)
	}
	return local + "@" + a, false, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func has8bit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// xtext encodes s per RFC 3461 4: "+" and "=" and anything outside "!".."~"
// become "+HH".
func xtext(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= '!' && ch <= '~' && ch != '+' && ch != '=' {
			sb.WriteByte(ch)
		} else {
			fmt.Fprintf(&sb, "+%02X", ch)
		}
	}
	return sb.String()
}

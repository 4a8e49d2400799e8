package pop3server

import "strings"

// cmdTOP sends a message's header, the blank line after it, and the first n
// lines of its body (RFC 1939 7 TOP), dot-stuffed like RETR.
func (c *conn) cmdTOP(arg string) error {
	msg, lines, ok := strings.Cut(arg, " ")
	if !ok {
		return errSyntax("TOP needs a message number and a line count")
	}
	n, ok := parseNumber(lines)
	if !ok {
		return errSyntax("invalid line count")
	}
	m, _, err := c.msgArg(msg)
	if err != nil {
		return err
	}
	rc, err := c.openMessage(m)
	if err != nil {
		return err
	}
	defer rc.Close()
	c.reply("+OK top of message follows")
	src := c.source()
	src.Reset(rc)
	_, err = copyBody(c.w, src, int64(n))
	src.Reset(nil)
	if err != nil {
		return err
	}
	c.reply(".")
	return nil
}

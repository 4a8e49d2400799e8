package pop3server

import (
	"errors"
	"io"
	"strings"

	"gannet/internal/store"
)

// cmdRETR sends a message (RFC 1939 5 RETR) as a multi-line response: the
// stored bytes, CRLF line endings, dot-stuffed, streamed from the store.
func (c *conn) cmdRETR(arg string) error {
	m, _, err := c.msgArg(arg)
	if err != nil {
		return err
	}
	rc, err := c.openMessage(m)
	if err != nil {
		return err
	}
	defer rc.Close()
	if m.wire >= 0 {
		c.reply("+OK %d octets", m.wire)
	} else {
		c.reply("+OK message follows")
	}
	src := c.source()
	src.Reset(rc)
	n, err := copyBody(c.w, src, -1)
	src.Reset(nil)
	if err != nil {
		// The +OK is out: the only honest end is to close without the
		// terminator, so that the client cannot take a part for the whole.
		return err
	}
	c.reply(".")
	if m.wire >= 0 && m.wire != n {
		c.log.Error("RETR sent a size other than LIST's", "uid", m.uid, "listed", m.wire, "sent", n)
	}
	m.wire = n
	c.srv.sizes.put(m.blob, n)
	return nil
}

// openMessage opens a message's bytes, answering a clean -ERR when another
// protocol removed it since login.
func (c *conn) openMessage(m *message) (io.ReadCloser, error) {
	if m.stored == 0 {
		// Nothing to read (and the store need not keep a blob for it).
		return io.NopCloser(strings.NewReader("")), nil
	}
	rc, err := c.srv.opts.Store.Open(c.ctx, m.blob)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &failure{text: "message no longer available", cause: err}
	}
	if err != nil {
		return nil, errTemp(err)
	}
	return rc, nil
}

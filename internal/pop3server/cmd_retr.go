package pop3server

import (
	"context"
	"errors"
	"io"
	"strings"

	"gannet/internal/store"
)

// cmdRETR sends a message (RFC 1939 5 RETR) as a multi-line response: the
// stored bytes, CRLF line endings, dot-stuffed, streamed from the store.
func (c *conn) cmdRETR(arg string) error {
	m, num, err := c.msgArg(arg)
	if err != nil {
		return err
	}
	rc, err := c.openRETR(m, num)
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

// A client that downloads a maildrop sends RETR 1, RETR 2, ... and waits for
// each answer. Once two RETRs came in order, the next messages are read from
// the store together with the one asked for, up to readAheadMsgs messages and
// readAheadBytes of stored size: each store read is a transaction whose fixed
// cost (SQLite's locking system calls, database/sql's per-query work) was
// larger than that of decoding a small message. What is read ahead belongs to
// this session and goes when it is used, replaced or the session ends; message
// bytes are never kept across sessions.
const (
	readAheadMsgs  = 8
	readAheadBytes = 128 << 10
)

// inlineOpener is implemented by stores that can open several small messages
// in one read (sqlstore.Store.OpenInline): one reader per ID, nil where the
// caller must use Open.
type inlineOpener interface {
	OpenInline(ctx context.Context, blobIDs []string) ([]io.ReadCloser, error)
}

// readAhead holds the readers of messages read with an earlier one.
type readAhead struct {
	last  int             // number of the last message RETR sent; 0 before any
	first int             // message number of rcs[0]
	rcs   []io.ReadCloser // nil entries: not read ahead, or already used
}

// take returns the reader read ahead for message n, or nil.
func (ra *readAhead) take(n int) io.ReadCloser {
	i := n - ra.first
	if i < 0 || i >= len(ra.rcs) {
		return nil
	}
	rc := ra.rcs[i]
	ra.rcs[i] = nil
	return rc
}

// release closes what is still read ahead.
func (ra *readAhead) release() {
	for _, rc := range ra.rcs {
		if rc != nil {
			rc.Close()
		}
	}
	ra.rcs = ra.rcs[:0]
}

// openRETR opens message n (m) for RETR, from what was read ahead, or reading
// the next few messages with it when the client is going through the maildrop
// in order.
func (c *conn) openRETR(m *message, n int) (io.ReadCloser, error) {
	ra := &c.drop.ahead
	sequential := ra.last > 0 && n == ra.last+1
	ra.last = n
	if rc := ra.take(n); rc != nil {
		return rc, nil
	}
	bo, ok := c.srv.opts.Store.(inlineOpener)
	if !sequential || !ok || m.stored == 0 {
		return c.openMessage(m)
	}
	ra.release()
	ids := []string{m.blob}
	nums := []int{n}
	total := m.stored
	for k := n + 1; k <= len(c.drop.msgs) && len(ids) < readAheadMsgs; k++ {
		next := &c.drop.msgs[k-1]
		if next.deleted || next.stored == 0 {
			continue
		}
		if total += next.stored; total > readAheadBytes {
			break
		}
		ids = append(ids, next.blob)
		nums = append(nums, k)
	}
	rcs, err := bo.OpenInline(c.ctx, ids)
	if err != nil || rcs[0] == nil {
		// Open says what is wrong (or reads a message kept in a file).
		for _, rc := range rcs {
			if rc != nil {
				rc.Close()
			}
		}
		return c.openMessage(m)
	}
	ra.first = n + 1
	for i, k := range nums[1:] {
		for ra.first+len(ra.rcs) < k {
			ra.rcs = append(ra.rcs, nil) // a deleted or empty message
		}
		ra.rcs = append(ra.rcs, rcs[i+1])
	}
	return rcs[0], nil
}

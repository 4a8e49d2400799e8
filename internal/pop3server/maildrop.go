package pop3server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"gannet/internal/store"
)

// maildrop is the TRANSACTION state's view of INBOX, fixed at login
// (RFC 1939 5: message numbers do not change during a session).
type maildrop struct {
	account     *store.Account
	mailboxID   int64
	uidValidity uint32
	msgs        []message // message number n is msgs[n-1]
	ahead       readAhead // messages RETR read before they were asked for
}

// message is one message of the snapshot.
type message struct {
	uid     uint32
	blob    string
	stored  int64 // size as stored
	wire    int64 // octets as sent by RETR after un-stuffing; -1 until known
	deleted bool  // marked by DELE
}

// uidl is the unique-id listing of a message (RFC 1939 7): printable ASCII
// 0x21-0x7E, at most 70 octets. The INBOX UIDVALIDITY never changes while INBOX
// exists and UIDs are never reused, so the pair names one message forever.
func (d *maildrop) uidl(m *message) string {
	return fmt.Sprintf("%d.%d", d.uidValidity, m.uid)
}

// openMaildrop takes the snapshot of the account's INBOX, without the messages
// the "keep" policy hid from POP3.
func (c *conn) openMaildrop(acct *store.Account) (*maildrop, error) {
	st := c.srv.opts.Store
	mb, err := st.Mailbox(c.ctx, acct.ID, "INBOX")
	if err != nil {
		return nil, fmt.Errorf("open INBOX of %s: %w", acct.Address, err)
	}
	list, err := st.List(c.ctx, acct.ID, mb.ID, nil, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list INBOX of %s: %w", acct.Address, err)
	}
	d := &maildrop{account: acct, mailboxID: mb.ID, uidValidity: mb.UIDValidity}
	d.msgs = make([]message, 0, len(list))
	for _, m := range list {
		if m.POPHidden {
			continue
		}
		wire := int64(-1)
		if n, ok := c.srv.sizes.get(m.BlobID); ok {
			wire = n
		}
		d.msgs = append(d.msgs, message{uid: m.UID, blob: m.BlobID, stored: m.Size, wire: wire})
	}
	return d, nil
}

// msgArg parses a message-number argument (RFC 1939 3) that must name a
// message not marked as deleted.
func (c *conn) msgArg(arg string) (*message, int, error) {
	n, ok := parseNumber(arg)
	if !ok {
		return nil, 0, errSyntax("invalid message number")
	}
	if n < 1 || n > uint64(len(c.drop.msgs)) {
		return nil, 0, &failure{text: "no such message"}
	}
	m := &c.drop.msgs[n-1]
	if m.deleted {
		return nil, 0, &failure{text: "message already deleted"}
	}
	return m, int(n), nil
}

// parseNumber accepts 1 to 10 decimal digits and nothing else.
func parseNumber(s string) (uint64, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// scanWorkers bounds how many messages one session reads at once to learn
// their sizes.
const scanWorkers = 4

// size returns a message's wire size, reading the message if neither the
// session nor the server's cache knows it.
func (c *conn) size(m *message) (int64, error) {
	if c.known(m) {
		return m.wire, nil
	}
	if c.buf == nil {
		c.buf = make([]byte, srcBufSize)
	}
	n, err := c.scan(c.ctx, m, c.buf)
	if err != nil {
		return 0, err
	}
	m.wire = n
	return n, nil
}

// known fills m.wire from what costs nothing, and reports whether it could.
func (c *conn) known(m *message) bool {
	switch {
	case m.wire >= 0:
	case m.stored == 0:
		m.wire = 0
	default:
		n, ok := c.srv.sizes.get(m.blob)
		if !ok {
			return false
		}
		m.wire = n
	}
	return true
}

// scan reads a message to compute its wire size and caches it. It does not
// touch m, so that several scans may run at once.
func (c *conn) scan(ctx context.Context, m *message, buf []byte) (int64, error) {
	rc, err := c.srv.opts.Store.Open(ctx, m.blob)
	if errors.Is(err, store.ErrNotFound) {
		// Gone since login (removed by another protocol and collected):
		// RETR will say so; the stored size is the best answer meanwhile.
		return m.stored, nil
	}
	if err != nil {
		return 0, fmt.Errorf("size of message uid %d: %w", m.uid, err)
	}
	defer rc.Close()
	n, err := wireSize(rc, buf)
	if err != nil {
		return 0, fmt.Errorf("size of message uid %d: %w", m.uid, err)
	}
	c.srv.sizes.put(m.blob, n)
	return n, nil
}

// totals returns the count and total wire size of the messages not marked as
// deleted (RFC 1939 5 STAT). Sizes not known yet are learnt first, reading
// up to scanWorkers messages at once: the first STAT of a large maildrop
// reads every message once.
func (c *conn) totals() (count int, octets int64, err error) {
	var todo []*message
	for i := range c.drop.msgs {
		if m := &c.drop.msgs[i]; !m.deleted && !c.known(m) {
			todo = append(todo, m)
		}
	}
	if err := c.scanAll(todo); err != nil {
		return 0, 0, err
	}
	for i := range c.drop.msgs {
		if m := &c.drop.msgs[i]; !m.deleted {
			count++
			octets += m.wire
		}
	}
	return count, octets, nil
}

// scanAll learns the sizes of todo with a few workers. Each worker writes the
// wire field of the messages it was given, and only those.
func (c *conn) scanAll(todo []*message) error {
	if len(todo) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	next := make(chan *message)
	errs := make(chan error, scanWorkers)
	var wg sync.WaitGroup
	for range min(scanWorkers, len(todo)) {
		wg.Go(func() {
			buf := make([]byte, srcBufSize)
			for m := range next {
				n, err := c.scan(ctx, m, buf)
				if err != nil {
					errs <- err
					cancel()
					return
				}
				m.wire = n
			}
		})
	}
feed:
	for _, m := range todo {
		select {
		case next <- m:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return c.ctx.Err()
	}
}

// source returns the connection's reusable reader for message bytes.
func (c *conn) source() *bufio.Reader {
	if c.src == nil {
		c.src = bufio.NewReaderSize(nil, srcBufSize)
	}
	return c.src
}

// remaining counts the messages not marked as deleted.
func (d *maildrop) remaining() int {
	n := 0
	for i := range d.msgs {
		if !d.msgs[i].deleted {
			n++
		}
	}
	return n
}

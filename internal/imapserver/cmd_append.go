package imapserver

import (
	"errors"
	"fmt"
	"io"

	"gannet/internal/imapwire"
	"gannet/internal/store"
)

// cmdAppend is APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502),
// LITERAL+ (RFC 7888), literal8 (RFC 3516), the UTF8 data item (RFC 6855
// 4), APPENDLIMIT (RFC 7889) and APPENDUID (RFC 4315 3). The target, the
// size limit and the quota are checked before the client is asked for a
// message. Several messages are stored all or none, in one transaction
// (store.AppendMany), and their total is bounded by APPENDLIMIT too, since
// they are held in memory until the command ends.
func (c *conn) cmdAppend(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	name, err := p.Mailbox()
	if err != nil {
		return err
	}
	st := c.srv.opts.Store
	var mb *store.Mailbox
	var msgs []store.AppendMessage
	var total int64
	for {
		if err := p.SP(); err != nil {
			return err
		}
		m, err := c.appendMessage(cmd, name, &mb, total, len(msgs))
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
		total += int64(len(m.Raw))
		if p.Peek() != ' ' {
			break
		}
	}
	if err := p.End(); err != nil {
		return err
	}
	for _, m := range msgs {
		if len(m.Raw) == 0 {
			return errNo("", "Empty message")
		}
	}
	var uv uint32
	var uids []uint32
	if len(msgs) == 1 {
		res, err := st.Append(c.ctx, c.acct.ID, mb.ID, msgs[0].Raw, msgs[0].Flags, msgs[0].Date)
		if err != nil {
			return storeErr(err)
		}
		uv, uids = res.UIDValidity, []uint32{res.UID}
	} else if uv, uids, err = st.AppendMany(c.ctx, c.acct.ID, mb.ID, msgs); err != nil {
		return storeErr(err)
	}
	if c.sel != nil && c.sel.id == mb.ID {
		c.kicked.Store(true) // announce EXISTS before the tagged OK
	}
	var set imapwire.SeqSet
	set.AddNum(uids...)
	cmd.code = "APPENDUID " + uitoa(uv) + " " + set.String()
	return nil
}

// maxMultiAppend bounds the messages of one MULTIAPPEND command.
const maxMultiAppend = 1000

// appendMessage reads one append-message: [flags SP] [date-time SP]
// (literal / "UTF8 (" literal8 ")"). The first one looks the mailbox up
// (*mb), before any message data is asked for.
func (c *conn) appendMessage(cmd *command, name string, mb **store.Mailbox, total int64, n int) (store.AppendMessage, error) {
	p := cmd.p
	var m store.AppendMessage
	var err error
	if p.Peek() == '(' {
		if m.Flags, err = parseFlags(p, false); err != nil {
			return m, err
		}
		if err := p.SP(); err != nil {
			return m, err
		}
	}
	if p.Peek() == '"' {
		if m.Date, err = p.DateTime(); err != nil {
			return m, err
		}
		if err := p.SP(); err != nil {
			return m, err
		}
	}
	utf8 := false
	if p.AcceptWord("UTF8") {
		utf8 = true
		if err := p.SP(); err != nil {
			return m, err
		}
		if err := p.Expect('('); err != nil {
			return m, err
		}
	}
	lit, err := p.LiteralInfo()
	if err != nil {
		return m, err
	}
	st := c.srv.opts.Store
	if *mb == nil {
		found, err := st.Mailbox(c.ctx, c.acct.ID, name)
		if errors.Is(err, store.ErrNotFound) {
			return m, errNo("TRYCREATE", "No such mailbox")
		}
		if err != nil {
			return m, storeErr(err)
		}
		*mb = found
	}
	if n >= maxMultiAppend {
		return m, errNo("LIMIT", "Too many messages in one APPEND")
	}
	limit := c.srv.opts.MaxLiteral - total
	if lit.Size <= limit {
		if acct, err := st.AccountByID(c.ctx, c.acct.ID); err == nil &&
			((acct.QuotaBytes > 0 && acct.UsedBytes+total+lit.Size > acct.QuotaBytes) ||
				(acct.QuotaMessages > 0 && acct.UsedMessages+int64(n)+1 > acct.QuotaMessages)) {
			// RFC 9208 4.3: refused before the data is sent.
			return m, errNo("OVERQUOTA", "Quota exceeded")
		}
	}
	// A literal over APPENDLIMIT, or over what is left of it for the
	// messages of this command, fails here with [TOOBIG] (RFC 7889).
	lit, r, err := p.OpenLiteral(max(limit, 0))
	if err != nil {
		return m, err
	}
	if m.Raw, err = readGrowing(r, lit.Size); err != nil {
		return m, fmt.Errorf("read APPEND data: %w", err)
	}
	if utf8 {
		if err := p.Expect(')'); err != nil {
			return m, err
		}
	}
	return m, nil
}

// appendChunk is the first buffer for APPEND data.
const appendChunk = 64 << 10

// readGrowing reads exactly n octets from r into a buffer that grows with
// what arrives (doubling from appendChunk), never from what the client
// announced: a client that announces 50 MB and stalls after 1 KB holds
// 64 KB, not 50 MB (issue 13, finding 2).
func readGrowing(r io.Reader, n int64) ([]byte, error) {
	buf := make([]byte, 0, min(n, appendChunk))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(n, 2*int64(cap(buf))))
			copy(nb, buf)
			buf = nb
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil && int64(len(buf)) < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

package imapserver

import (
	"errors"
	"fmt"
	"io"
	"time"

	"gannet/internal/store"
)

// cmdAppend is APPEND (RFC 9051 6.3.12) with LITERAL+ (RFC 7888), literal8
// (RFC 3516), the UTF8 data item (RFC 6855 4), APPENDLIMIT (RFC 7889) and
// APPENDUID (RFC 4315 3). The target, the size limit and the quota are
// checked before the client is asked for the message.
func (c *conn) cmdAppend(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	name, err := p.Mailbox()
	if err != nil {
		return err
	}
	if err := p.SP(); err != nil {
		return err
	}
	var flags []string
	if p.Peek() == '(' {
		if flags, err = parseFlags(p, false); err != nil {
			return err
		}
		if err := p.SP(); err != nil {
			return err
		}
	}
	var date time.Time
	if p.Peek() == '"' {
		if date, err = p.DateTime(); err != nil {
			return err
		}
		if err := p.SP(); err != nil {
			return err
		}
	}
	utf8 := false
	if p.AcceptWord("UTF8") {
		utf8 = true
		if err := p.SP(); err != nil {
			return err
		}
		if err := p.Expect('('); err != nil {
			return err
		}
	}
	lit, err := p.LiteralInfo()
	if err != nil {
		return err
	}
	st := c.srv.opts.Store
	mb, err := st.Mailbox(c.ctx, c.acct.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return errNo("TRYCREATE", "No such mailbox")
	}
	if err != nil {
		return storeErr(err)
	}
	if lit.Size <= c.srv.opts.MaxLiteral {
		if acct, err := st.AccountByID(c.ctx, c.acct.ID); err == nil &&
			((acct.QuotaBytes > 0 && acct.UsedBytes+lit.Size > acct.QuotaBytes) ||
				(acct.QuotaMessages > 0 && acct.UsedMessages+1 > acct.QuotaMessages)) {
			// RFC 9208 4.3: refused before the data is sent.
			return errNo("OVERQUOTA", "Quota exceeded")
		}
	}
	// A literal over APPENDLIMIT fails here with [TOOBIG] (RFC 7889).
	lit, r, err := p.OpenLiteral(c.srv.opts.MaxLiteral)
	if err != nil {
		return err
	}
	raw, err := readGrowing(r, lit.Size)
	if err != nil {
		return fmt.Errorf("read APPEND data: %w", err)
	}
	if utf8 {
		if err := p.Expect(')'); err != nil {
			return err
		}
	}
	if err := p.End(); err != nil {
		return err
	}
	if len(raw) == 0 {
		return errNo("", "Empty message")
	}
	res, err := st.Append(c.ctx, c.acct.ID, mb.ID, raw, flags, date)
	if err != nil {
		return storeErr(err)
	}
	if c.sel != nil && c.sel.id == mb.ID {
		c.kicked.Store(true) // announce EXISTS before the tagged OK
	}
	cmd.code = "APPENDUID " + uitoa(res.UIDValidity) + " " + uitoa(res.UID)
	return nil
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

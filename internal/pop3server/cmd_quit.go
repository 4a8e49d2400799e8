package pop3server

import (
	"fmt"

	"gannet/internal/store"
)

// cmdQUIT ends the session. In the TRANSACTION state it first enters the
// UPDATE state (RFC 1939 6) and commits the DELE marks in one store call,
// according to the account's POP3 policy.
func (c *conn) cmdQUIT(arg string) error {
	if err := noArgs(arg); err != nil {
		return err
	}
	c.quit = true
	if c.state != stateTransaction {
		c.reply("+OK %s POP3 server signing off", c.srv.opts.Hostname)
		return nil
	}
	removed, err := c.update()
	// Release the maildrop before answering, so that a client that reads the
	// answer can log in again at once.
	c.srv.unlockMaildrop(c)
	if err != nil {
		// RFC 1939 6: "-ERR some deleted messages not removed".
		return &failure{code: "SYS/TEMP", text: "some deleted messages not removed", cause: err}
	}
	if removed > 0 {
		c.log.Info("messages removed from the maildrop", "count", removed, "policy", c.drop.account.POP3Policy)
	}
	left := c.drop.remaining()
	if left == 0 {
		c.reply("+OK %s POP3 server signing off (maildrop empty)", c.srv.opts.Hostname)
	} else {
		c.reply("+OK %s POP3 server signing off (%d messages left)", c.srv.opts.Hostname, left)
	}
	return nil
}

// update commits the DELE marks: expunge (delete, the default), move to the
// \Archive mailbox (archive), or hide from later POP3 sessions (keep). Each is
// one store transaction, so IMAP sessions see one EXPUNGE batch.
func (c *conn) update() (int, error) {
	var uids []uint32
	for i := range c.drop.msgs {
		if c.drop.msgs[i].deleted {
			uids = append(uids, c.drop.msgs[i].uid)
		}
	}
	if len(uids) == 0 {
		return 0, nil
	}
	st := c.srv.opts.Store
	acct, inbox := c.drop.account, c.drop.mailboxID
	switch p := acct.POP3Policy; p {
	case store.POP3Delete, "":
		if _, err := st.ExpungeUIDs(c.ctx, acct.ID, inbox, uids); err != nil {
			return 0, fmt.Errorf("expunge %d messages: %w", len(uids), err)
		}
	case store.POP3Archive:
		// The \Archive mailbox (RFC 6154), created if the account has none.
		dst, err := store.SpecialMailbox(c.ctx, st, acct.ID, store.SpecialArchive)
		if err != nil {
			return 0, err
		}
		if _, err := st.Move(c.ctx, acct.ID, inbox, uidSet(uids), dst.ID); err != nil {
			return 0, fmt.Errorf("archive %d messages: %w", len(uids), err)
		}
	case store.POP3Keep:
		if err := st.SetPOPHidden(c.ctx, acct.ID, inbox, uids); err != nil {
			return 0, fmt.Errorf("hide %d messages: %w", len(uids), err)
		}
	default:
		// A policy this server does not know: remove nothing rather than
		// guess at something irreversible.
		return 0, fmt.Errorf("unknown POP3 policy %q", p)
	}
	return len(uids), nil
}

// uidSet turns ascending UIDs into ranges.
func uidSet(uids []uint32) store.UIDSet {
	var set store.UIDSet
	for _, u := range uids {
		if n := len(set); n > 0 && set[n-1].Hi+1 == u {
			set[n-1].Hi = u
			continue
		}
		set = append(set, store.UIDRange{Lo: u, Hi: u})
	}
	return set
}

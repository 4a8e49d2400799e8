package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math"
	"path/filepath"

	"gannet/internal/store/dump"
)

// Snapshot is a read-only, consistent view of the whole store, for moving
// an install to another backend while this one keeps serving (`gannet
// migrate`, internal/store/migrate). It is one read transaction on the read
// pool: in WAL mode SQLite gives it snapshot isolation, so every row it
// returns is as of one commit while the writer goes on committing.
//
// A snapshot held open keeps the WAL from starting over (walsync.go's
// checkpoints cannot pass it): take one per pass, not one for hours.
type Snapshot struct {
	s    *Store
	tx   *sql.Tx
	page int // messages per page (exportPage; tests make it small)
}

// Snapshot begins a snapshot; the caller must Close it.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	// A SQLite read transaction takes its snapshot at its first read, not
	// at BEGIN: read now, so that the snapshot is as of this call.
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM meta`).Scan(&n); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return &Snapshot{s: s, tx: tx, page: exportPage}, nil
}

// Close ends the snapshot.
func (sn *Snapshot) Close() error { return sn.tx.Rollback() }

// Source identifies the store: the absolute path of its database, so that
// an interrupted migration resumes only from the same install.
func (s *Store) Source() string {
	p, err := filepath.Abs(filepath.Join(s.dir, "gannet.db"))
	if err != nil {
		return filepath.Join(s.dir, "gannet.db")
	}
	return "sqlite:" + p
}

// Directory returns the small tables whole: id marks, domains, accounts
// (with their MODSEQ and usage), aliases, DKIM keys, mailboxes (with
// UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and counters), subscriptions and
// webmail sessions.
func (sn *Snapshot) Directory(ctx context.Context) (*dump.Directory, error) {
	d := &dump.Directory{}
	if err := sn.marks(ctx, &d.Marks); err != nil {
		return nil, err
	}
	err := sn.each(ctx, `SELECT name, created FROM domains ORDER BY name`, func(rows *sql.Rows) error {
		var x dump.Domain
		err := rows.Scan(&x.Name, &x.Created)
		d.Domains = append(d.Domains, x)
		return err
	})
	if err == nil {
		err = sn.each(ctx, `SELECT id, address, domain, password, scram, quota_bytes, quota_messages,
			used_bytes, used_messages, pop3_policy, modseq, disabled, created FROM accounts ORDER BY id`, func(rows *sql.Rows) error {
			var x dump.Account
			err := rows.Scan(&x.ID, &x.Address, &x.Domain, &x.Password, &x.SCRAM, &x.QuotaBytes, &x.QuotaMessages,
				&x.UsedBytes, &x.UsedMessages, &x.POP3Policy, &x.ModSeq, &x.Disabled, &x.Created)
			d.Accounts = append(d.Accounts, x)
			return err
		})
	}
	if err == nil {
		err = sn.each(ctx, `SELECT address, target FROM aliases ORDER BY address, target`, func(rows *sql.Rows) error {
			var x dump.Alias
			err := rows.Scan(&x.Address, &x.Target)
			d.Aliases = append(d.Aliases, x)
			return err
		})
	}
	if err == nil {
		err = sn.each(ctx, `SELECT domain, selector, algorithm, pem, created FROM dkim_keys ORDER BY domain, selector`, func(rows *sql.Rows) error {
			var x dump.DKIMKey
			err := rows.Scan(&x.Domain, &x.Selector, &x.Algorithm, &x.PEM, &x.Created)
			d.DKIMKeys = append(d.DKIMKeys, x)
			return err
		})
	}
	if err == nil {
		err = sn.each(ctx, `SELECT id, account_id, name, special_use, uidvalidity, uidnext, highest_modseq,
			messages, unseen, deleted, size FROM mailboxes ORDER BY id`, func(rows *sql.Rows) error {
			var x dump.Mailbox
			err := rows.Scan(&x.ID, &x.AccountID, &x.Name, &x.SpecialUse, &x.UIDValidity, &x.UIDNext, &x.HighestModSeq,
				&x.Messages, &x.Unseen, &x.Deleted, &x.Size)
			d.Mailboxes = append(d.Mailboxes, x)
			return err
		})
	}
	if err == nil {
		err = sn.each(ctx, `SELECT account_id, name FROM subscriptions ORDER BY account_id, name`, func(rows *sql.Rows) error {
			var x dump.Subscription
			err := rows.Scan(&x.AccountID, &x.Name)
			d.Subscriptions = append(d.Subscriptions, x)
			return err
		})
	}
	if err == nil {
		err = sn.each(ctx, `SELECT token_hash, account_id, csrf, credential, created, last_seen FROM web_sessions`, func(rows *sql.Rows) error {
			var x dump.WebSession
			err := rows.Scan(&x.TokenHash, &x.AccountID, &x.CSRF, &x.Credential, &x.Created, &x.LastSeen)
			d.WebSessions = append(d.WebSessions, x)
			return err
		})
	}
	if err == nil {
		err = sn.each(ctx, `SELECT account_id, name, content, active, updated FROM sieve_scripts`, func(rows *sql.Rows) error {
			var x dump.SieveScript
			err := rows.Scan(&x.AccountID, &x.Name, &x.Content, &x.Active, &x.Updated)
			d.SieveScripts = append(d.SieveScripts, x)
			return err
		})
	}
	if err == nil {
		err = sn.each(ctx, `SELECT account_id, kind, key, expires FROM sieve_seen`, func(rows *sql.Rows) error {
			var x dump.SieveSeen
			err := rows.Scan(&x.AccountID, &x.Kind, &x.Key, &x.Expires)
			d.SieveSeen = append(d.SieveSeen, x)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return d, nil
}

// marks reads the id high-water marks: meta's (migration 0006) for
// accounts and mailboxes, sqlite_sequence's for the queue (AUTOINCREMENT),
// and the last UIDVALIDITY handed out.
func (sn *Snapshot) marks(ctx context.Context, m *dump.Marks) error {
	err := sn.tx.QueryRowContext(ctx, `SELECT
		coalesce((SELECT value FROM meta WHERE key = 'last_account_id'), 0),
		coalesce((SELECT value FROM meta WHERE key = 'last_mailbox_id'), 0),
		coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'queue_messages'), 0),
		coalesce((SELECT value FROM meta WHERE key = 'uidvalidity'), 0)`).
		Scan(&m.LastAccountID, &m.LastMailboxID, &m.LastQueueID, &m.UIDValidity)
	if err != nil {
		return fmt.Errorf("snapshot: id marks: %w", err)
	}
	return nil
}

// each runs a query in the snapshot and calls fn for every row.
func (sn *Snapshot) each(ctx context.Context, q string, fn func(*sql.Rows) error, args ...any) error {
	rows, err := sn.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// exportPage is how many messages Messages hands over at a time.
const exportPage = 1000

// Messages calls fn with the messages of a mailbox whose MODSEQ is above
// since (0: all of them), a page at a time: in UID order when since is 0
// (the primary key), else in MODSEQ order (index messages_modseq), so that
// a catch-up reads only the changed rows of a large mailbox. The page is
// fn's to keep.
func (sn *Snapshot) Messages(ctx context.Context, mailboxID, since int64, fn func([]dump.Message) error) error {
	const cols = `mailbox_id, uid, account_id, modseq, flags, keywords, internal_date, size, blob, pop_hidden`
	q := `SELECT ` + cols + ` FROM messages WHERE mailbox_id = ? AND modseq > ? AND uid > ? ORDER BY uid LIMIT ?`
	if since > 0 {
		q = `SELECT ` + cols + ` FROM messages WHERE mailbox_id = ? AND (modseq, uid) > (?, ?) ORDER BY modseq, uid LIMIT ?`
	}
	// The key after which a page starts: (modseq, uid) in MODSEQ order,
	// whose first page starts after every message of MODSEQ since.
	ms, uid := since, int64(-1)
	if since > 0 {
		uid = math.MaxInt64
	}
	for {
		page := make([]dump.Message, 0, sn.page)
		err := sn.each(ctx, q, func(rows *sql.Rows) error {
			var m dump.Message
			err := rows.Scan(&m.MailboxID, &m.UID, &m.AccountID, &m.ModSeq, &m.Flags, &m.Keywords,
				&m.InternalDate, &m.Size, &m.Blob, &m.POPHidden)
			page = append(page, m)
			return err
		}, mailboxID, ms, uid, sn.page)
		if err != nil {
			return fmt.Errorf("snapshot: messages of mailbox %d: %w", mailboxID, err)
		}
		if len(page) == 0 {
			return nil
		}
		last := page[len(page)-1]
		uid = last.UID
		if since > 0 {
			ms = last.ModSeq
		}
		if err := fn(page); err != nil {
			return err
		}
		if len(page) < sn.page {
			return nil
		}
	}
}

// Tombstones returns a mailbox's tombstones with MODSEQ above since.
func (sn *Snapshot) Tombstones(ctx context.Context, mailboxID, since int64) ([]dump.Tombstone, error) {
	var out []dump.Tombstone
	err := sn.each(ctx, `SELECT mailbox_id, uid, modseq FROM tombstones WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`,
		func(rows *sql.Rows) error {
			var x dump.Tombstone
			err := rows.Scan(&x.MailboxID, &x.UID, &x.ModSeq)
			out = append(out, x)
			return err
		}, mailboxID, since)
	if err != nil {
		return nil, fmt.Errorf("snapshot: tombstones of mailbox %d: %w", mailboxID, err)
	}
	return out, nil
}

// POPHidden returns the messages hidden from POP3. Hiding one does not
// bump a MODSEQ (it is not an IMAP change), so a catch-up cannot find it by
// MODSEQ and asks for all of them.
func (sn *Snapshot) POPHidden(ctx context.Context) ([]dump.Key, error) {
	var out []dump.Key
	err := sn.each(ctx, `SELECT mailbox_id, uid FROM messages WHERE pop_hidden <> 0`, func(rows *sql.Rows) error {
		var k dump.Key
		err := rows.Scan(&k.MailboxID, &k.UID)
		out = append(out, k)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: pop3-hidden messages: %w", err)
	}
	return out, nil
}

// Body returns a message body: the parse results stored at delivery and
// the raw bytes. A body's row and bytes never change (named by their
// hash), so the bytes are read outside the snapshot, through Open.
func (sn *Snapshot) Body(ctx context.Context, blob string) (*dump.Body, error) {
	b := &dump.Body{}
	err := sn.tx.QueryRowContext(ctx, `SELECT blob, size, subject, h_from, h_to, h_cc, h_bcc, sent_date, sent_day, parsed, header
		FROM bodies WHERE blob = ?`, blob).Scan(&b.ID, &b.Size, &b.Subject, &b.From, &b.To, &b.Cc, &b.Bcc,
		&b.SentDate, &b.SentDay, &b.Parsed, &b.Header)
	if err != nil {
		return nil, fmt.Errorf("snapshot: body %s: %w", blob, err)
	}
	rc, err := sn.s.Open(ctx, blob)
	if err != nil {
		return nil, fmt.Errorf("snapshot: body %s: %w", blob, err)
	}
	b.Raw, err = io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("snapshot: body %s: %w", blob, err)
	}
	if int64(len(b.Raw)) != b.Size {
		return nil, fmt.Errorf("snapshot: body %s: %d bytes, want %d", blob, len(b.Raw), b.Size)
	}
	if b.Header == nil {
		b.Header = []byte{}
	}
	return b, nil
}

// Queue returns the outbound queue with its recipients' attempt state.
// Data is left out of the messages for which have reports true (a
// catch-up copies a queued message's bytes once; they never change).
func (sn *Snapshot) Queue(ctx context.Context, have func(id int64) bool) ([]dump.QueueMessage, error) {
	var out []dump.QueueMessage
	idx := map[int64]int{}
	err := sn.each(ctx, `SELECT id, mail_from, account_id, env_id, ret, size, created FROM queue_messages ORDER BY id`,
		func(rows *sql.Rows) error {
			var m dump.QueueMessage
			err := rows.Scan(&m.ID, &m.MailFrom, &m.AccountID, &m.EnvID, &m.Ret, &m.Size, &m.Created)
			idx[m.ID] = len(out)
			out = append(out, m)
			return err
		})
	if err == nil {
		err = sn.each(ctx, `SELECT message_id, address, domain, notify, orcpt, attempts, next_attempt, last_attempt,
			last_error, delay_notified FROM queue_recipients ORDER BY message_id, address`, func(rows *sql.Rows) error {
			var id int64
			var r dump.QueueRecipient
			if err := rows.Scan(&id, &r.Address, &r.Domain, &r.Notify, &r.ORcpt, &r.Attempts, &r.NextAttempt,
				&r.LastAttempt, &r.LastError, &r.DelayNotified); err != nil {
				return err
			}
			if i, ok := idx[id]; ok {
				out[i].Recipients = append(out[i].Recipients, r)
			}
			return nil
		})
	}
	for i := range out {
		if err != nil || have(out[i].ID) {
			continue
		}
		err = sn.tx.QueryRowContext(ctx, `SELECT data FROM queue_messages WHERE id = ?`, out[i].ID).Scan(&out[i].Data)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: queue: %w", err)
	}
	return out, nil
}

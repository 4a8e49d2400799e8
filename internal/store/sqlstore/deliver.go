package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gannet/internal/store"
)

// inlineMax is the largest message kept inline in the database rather than as a
// blob file. Below it a delivery is pure SQL and shares the batch's one fsync;
// above it the file's own fsync is amortised over many bytes.
const inlineMax = 128 << 10

// body is a message's content as stored once: the core's parse results
// (store.Ingest) plus where sqlstore put the bytes.
type body struct {
	*store.Body
	data []byte // compressed bytes when inline; nil when in a blob file
}

// prepareBody parses the message and writes its blob durably. It runs in the
// caller's goroutine, outside the writer, so that parsing and blob fsyncs of
// concurrent deliveries proceed in parallel and only the SQL is serialised.
func (s *Store) prepareBody(raw []byte) (*body, error) {
	b := &body{Body: store.Ingest(raw)}
	if len(raw) <= inlineMax {
		b.data = s.blobs.Compress(raw)
	} else if err := s.blobs.PutID(b.ID, raw); err != nil {
		return nil, storageErr(fmt.Errorf("store message: %w", err))
	}
	return b, nil
}

func insertBody(ctx context.Context, tx *wtx, b *body) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO bodies(blob, size, parsed, header, subject, h_from, h_to, h_cc, h_bcc, sent_date, sent_day, data)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		b.ID, b.Size, b.Parsed, b.Header, b.Subject, b.From, b.To, b.Cc, b.Bcc, b.SentDate, b.SentDay, b.data)
	if err != nil {
		return fmt.Errorf("insert body: %w", err)
	}
	return nil
}

// newMessage is one message row to insert.
type newMessage struct {
	blob  string
	size  int64
	flags store.FlagSet
	date  int64
}

// checkQuota refuses adding n messages of size bytes to the account (RFC 9208).
func checkQuota(ctx context.Context, tx *wtx, accountID, n, bytes int64) error {
	var qb, qm, ub, um int64
	err := tx.QueryRowContext(ctx, `SELECT quota_bytes, quota_messages, used_bytes, used_messages FROM accounts WHERE id = ?`,
		accountID).Scan(&qb, &qm, &ub, &um)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	if (qb > 0 && ub+bytes > qb) || (qm > 0 && um+n > qm) {
		return store.ErrOverQuota
	}
	return nil
}

// addUsage adds n messages of size bytes to the account's usage and takes the
// account's next MODSEQ, in one statement: the quota check, the MODSEQ bump and
// the usage update were three, on the writer's serial path for every delivery.
// With quota, an account that would go over its limit (RFC 9208) is left
// unchanged and ErrOverQuota returned.
func addUsage(ctx context.Context, tx *wtx, accountID, n, bytes int64, quota bool) (uint64, error) {
	var modseq uint64
	var err error
	if quota {
		err = tx.QueryRowContext(ctx, `UPDATE accounts SET modseq = modseq + 1, used_bytes = used_bytes + ?1, used_messages = used_messages + ?2
			WHERE id = ?3 AND (quota_bytes = 0 OR used_bytes + ?1 <= quota_bytes) AND (quota_messages = 0 OR used_messages + ?2 <= quota_messages)
			RETURNING modseq`, bytes, n, accountID).Scan(&modseq)
	} else {
		err = tx.QueryRowContext(ctx, `UPDATE accounts SET modseq = modseq + 1, used_bytes = used_bytes + ?1, used_messages = used_messages + ?2
			WHERE id = ?3 RETURNING modseq`, bytes, n, accountID).Scan(&modseq)
	}
	if errors.Is(err, sql.ErrNoRows) {
		if quota {
			// Over quota or no such account: checkQuota tells which.
			if qerr := checkQuota(ctx, tx, accountID, n, bytes); qerr != nil {
				return 0, qerr
			}
		}
		return 0, fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("update usage: %w", err)
	}
	return modseq, nil
}

// insertMessages adds messages to a mailbox with consecutive new UIDs and one new
// MODSEQ, keeping the mailbox counters and the account's usage in step.
// A move passes quota=false: it adds nothing to the account's usage in the end.
func insertMessages(ctx context.Context, tx *wtx, accountID, mailboxID int64, msgs []newMessage, quota bool) (uidValidity uint32, uids []uint32, err error) {
	_, uidValidity, uids, err = insertMessagesIn(ctx, tx, accountID, mailbox{id: mailboxID}, msgs, quota)
	return uidValidity, uids, err
}

// mailbox names the mailbox insertMessagesIn adds to: by id, or when id is 0
// by name (deliveries name theirs, and the name is looked up by the same
// statement that allocates the UIDs: one statement less per delivery).
type mailbox struct {
	id   int64
	name string
}

func insertMessagesIn(ctx context.Context, tx *wtx, accountID int64, mb mailbox, msgs []newMessage, quota bool) (mailboxID int64, uidValidity uint32, uids []uint32, err error) {
	if len(msgs) == 0 {
		return mb.id, 0, nil, nil
	}
	var total, unseen, deleted int64
	for _, m := range msgs {
		total += m.size
		unseen += store.Unseen(m.flags.Bits)
		deleted += store.Deleted(m.flags.Bits)
	}
	modseq, err := addUsage(ctx, tx, accountID, int64(len(msgs)), total, quota)
	if err != nil {
		return 0, 0, nil, err
	}
	var first uint32
	const set = `UPDATE mailboxes SET uidnext = uidnext + ?1, messages = messages + ?1,
		unseen = unseen + ?2, deleted = deleted + ?3, size = size + ?4, highest_modseq = ?5`
	if mb.id != 0 {
		err = tx.QueryRowContext(ctx, set+` WHERE id = ?6 AND account_id = ?7 RETURNING id, uidnext - ?1, uidvalidity`,
			len(msgs), unseen, deleted, total, modseq, mb.id, accountID).Scan(&mailboxID, &first, &uidValidity)
	} else {
		err = tx.QueryRowContext(ctx, set+` WHERE account_id = ?6 AND name = ?7 RETURNING id, uidnext - ?1, uidvalidity`,
			len(msgs), unseen, deleted, total, modseq, accountID, mb.name).Scan(&mailboxID, &first, &uidValidity)
	}
	if errors.Is(err, sql.ErrNoRows) {
		if mb.id == 0 {
			return 0, 0, nil, fmt.Errorf("mailbox %s: %w", mb.name, store.ErrNotFound)
		}
		return 0, 0, nil, fmt.Errorf("mailbox %d: %w", mb.id, store.ErrNotFound)
	}
	if err != nil {
		return 0, 0, nil, fmt.Errorf("allocate uid: %w", err)
	}
	if uint64(first)+uint64(len(msgs)) > 0xFFFFFFFF {
		return 0, 0, nil, fmt.Errorf("mailbox %d: UIDs exhausted: %w", mailboxID, store.ErrNotPermitted)
	}
	uids = make([]uint32, len(msgs))
	for i, m := range msgs {
		uid := first + uint32(i)
		uids[i] = uid
		_, err := tx.ExecContext(ctx, `INSERT INTO messages(mailbox_id, uid, account_id, modseq, flags, keywords, internal_date, size, blob)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			mailboxID, uid, accountID, modseq, m.flags.Bits, m.flags.KeywordString(), m.date, m.size, m.blob)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("insert message: %w", err)
		}
	}
	tx.publish(store.Change{AccountID: accountID, MailboxID: mailboxID, ModSeq: modseq, Kind: store.ChangeNew, UIDs: uids})
	return mailboxID, uidValidity, uids, nil
}

// Deliver implements store.Store: one blob, one transaction for every recipient.
// A recipient over quota is refused alone (its result carries ErrOverQuota); any
// other failure rolls back the whole delivery.
func (s *Store) Deliver(ctx context.Context, d store.Delivery) ([]store.DeliveryResult, error) {
	if len(d.Recipients) == 0 {
		return nil, fmt.Errorf("deliver: no recipients: %w", store.ErrInvalidName)
	}
	flags := make([]store.FlagSet, len(d.Recipients))
	for i, r := range d.Recipients {
		fs, err := store.ParseFlags(r.Flags)
		if err != nil {
			return nil, err
		}
		flags[i] = fs
	}
	date := d.InternalDate
	if date.IsZero() {
		date = s.now()
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	b, err := s.prepareBody(d.Raw)
	if err != nil {
		return nil, err
	}
	var results []store.DeliveryResult
	err = s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		results = make([]store.DeliveryResult, len(d.Recipients))
		if err := insertBody(ctx, tx, b); err != nil {
			return err
		}
		for i, r := range d.Recipients {
			if s.deliverHook != nil {
				if err := s.deliverHook(i); err != nil {
					return err
				}
			}
			name := r.Mailbox
			if name == "" {
				name = "INBOX"
			}
			name, err := store.NormMailbox(name)
			if err != nil {
				return err
			}
			mbox, uv, uids, err := insertMessagesIn(ctx, tx, r.AccountID, mailbox{name: name}, []newMessage{{
				blob: b.ID, size: b.Size, flags: flags[i], date: unix(date),
			}}, true)
			if errors.Is(err, store.ErrOverQuota) {
				// The quota check comes first; name the mailbox all the same.
				mbox, _ = s.mailboxIDTx(ctx, tx, r.AccountID, name)
				results[i] = store.DeliveryResult{MailboxID: mbox, Err: err}
				continue
			}
			if err != nil {
				return fmt.Errorf("deliver to account %d: %w", r.AccountID, err)
			}
			results[i] = store.DeliveryResult{MailboxID: mbox, UIDValidity: uv, UID: uids[0]}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// Append implements store.Store (IMAP APPEND, webmail drafts and Sent copies).
func (s *Store) Append(ctx context.Context, accountID, mailboxID int64, raw []byte, flags []string, date time.Time) (store.DeliveryResult, error) {
	fs, err := store.ParseFlags(flags)
	if err != nil {
		return store.DeliveryResult{}, err
	}
	if date.IsZero() {
		date = s.now()
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	b, err := s.prepareBody(raw)
	if err != nil {
		return store.DeliveryResult{}, err
	}
	var res store.DeliveryResult
	err = s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		if err := insertBody(ctx, tx, b); err != nil {
			return err
		}
		uv, uids, err := insertMessages(ctx, tx, accountID, mailboxID, []newMessage{{
			blob: b.ID, size: b.Size, flags: fs, date: unix(date),
		}}, true)
		if err != nil {
			return err
		}
		res = store.DeliveryResult{MailboxID: mailboxID, UIDValidity: uv, UID: uids[0]}
		return nil
	})
	return res, err
}

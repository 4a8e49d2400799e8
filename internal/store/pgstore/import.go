package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"gannet/internal/store/dump"
)

// Import API: what `gannet migrate` (internal/store/migrate) writes into a
// PostgreSQL database when an install moves here from another backend. Rows
// keep their ids, UIDs and MODSEQs (package dump); every write is an upsert,
// so a pass interrupted half-way is simply run again. Nothing here publishes
// a change: no node serves the database until the move is finished.
//
// The progress of a move is kept in two tables of its own, created by
// ImportBegin and dropped by ImportFinish: the source's identity, and per
// account the MODSEQ up to which its mail has been copied. A database with
// accounts and without them is not a move's target and is refused.

// ErrNotEmpty is returned by ImportBegin for a database that already holds
// accounts and is not the target of an unfinished move from the same source.
var ErrNotEmpty = errors.New("database already holds accounts")

// ErrImporting is returned by Open, without Options.Import, for the target
// of an unfinished move.
var ErrImporting = errors.New("the database is the target of an unfinished move: finish it (gannet migrate --finish) first")

// refuseUnfinishedImport fails with ErrImporting if a move into the
// database has begun and not finished: a server started on it would miss
// the changes the last pass has yet to copy.
func refuseUnfinishedImport(ctx context.Context, pool *pgxpool.Pool) error {
	var importing bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('gannet_migrate_source') IS NOT NULL`).Scan(&importing); err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	if importing {
		return fmt.Errorf("pgstore: %w", ErrImporting)
	}
	return nil
}

// ImportBegin starts or resumes a move from source: it returns, per account
// id, the MODSEQ up to which the account's mail was copied by earlier runs
// (empty for a new move).
func (s *Store) ImportBegin(ctx context.Context, source string) (map[int64]int64, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	copied := map[int64]int64{}
	err := pgx.BeginFunc(ctx, s.pool, func(t pgx.Tx) error {
		// One move at a time into a database.
		if _, err := t.Exec(ctx, `SELECT pg_advisory_xact_lock(7305502)`); err != nil {
			return err
		}
		var have bool
		if err := t.QueryRow(ctx, `SELECT to_regclass('gannet_migrate_source') IS NOT NULL`).Scan(&have); err != nil {
			return err
		}
		if have {
			var src string
			if err := t.QueryRow(ctx, `SELECT source FROM gannet_migrate_source`).Scan(&src); err != nil {
				return fmt.Errorf("read the move's source: %w", err)
			}
			if src != source {
				return fmt.Errorf("the database is the target of an unfinished move from %s, not %s: %w", src, source, ErrNotEmpty)
			}
			rows, _ := t.Query(ctx, `SELECT account_id, modseq FROM gannet_migrate_accounts`)
			var id, ms int64
			_, err := pgx.ForEachRow(rows, []any{&id, &ms}, func() error {
				copied[id] = ms
				return nil
			})
			return err
		}
		var n int64
		if err := t.QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d accounts: %w", n, ErrNotEmpty)
		}
		_, err := t.Exec(ctx, `CREATE TABLE gannet_migrate_source (source TEXT NOT NULL);
			CREATE TABLE gannet_migrate_accounts (account_id BIGINT PRIMARY KEY, modseq BIGINT NOT NULL)`)
		if err == nil {
			_, err = t.Exec(ctx, `INSERT INTO gannet_migrate_source(source) VALUES($1)`, source)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: import: %w", err)
	}
	return copied, nil
}

// ImportFinish ends a move: the progress tables are dropped, and the
// database is from now on an ordinary one (a later ImportBegin refuses it).
func (s *Store) ImportFinish(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `DROP TABLE IF EXISTS gannet_migrate_source, gannet_migrate_accounts`)
	if err != nil {
		return fmt.Errorf("pgstore: import: finish: %w", err)
	}
	return nil
}

// ImportDirectory makes the small tables equal to d in one transaction:
// domains, accounts (deleted ones deleted, with their mail), aliases, DKIM
// keys, mailboxes (deleted ones deleted with their messages and
// tombstones, renamed ones renamed), subscriptions and webmail sessions;
// then moves every id sequence and the UIDVALIDITY counter past the
// source's high-water marks, so that nothing the target creates reuses an
// id or a UIDVALIDITY the source gave.
func (s *Store) ImportDirectory(ctx context.Context, d *dump.Directory) error {
	if err := s.alive(); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(t pgx.Tx) error {
		for _, step := range []func(context.Context, pgx.Tx, *dump.Directory) error{
			importAccounts, importMailboxes, importSmallTables, importMarks,
		} {
			if err := step(ctx, t, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgstore: import directory: %w", err)
	}
	return nil
}

func importAccounts(ctx context.Context, t pgx.Tx, d *dump.Directory) error {
	var dn []string
	var dc []int64
	for _, x := range d.Domains {
		dn, dc = append(dn, x.Name), append(dc, x.Created)
	}
	if _, err := t.Exec(ctx, `INSERT INTO domains(name, created) SELECT * FROM unnest($1::TEXT[], $2::BIGINT[])
		ON CONFLICT (name) DO NOTHING`, dn, dc); err != nil {
		return fmt.Errorf("domains: %w", err)
	}
	n := len(d.Accounts)
	id, qb, qm, ub, um, ms, cr := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	addr, dom, pw, pol := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	scram, dis := make([][]byte, n), make([]bool, n)
	for i, a := range d.Accounts {
		id[i], addr[i], dom[i], pw[i], scram[i] = a.ID, a.Address, a.Domain, a.Password, a.SCRAM
		qb[i], qm[i], ub[i], um[i], pol[i] = a.QuotaBytes, a.QuotaMessages, a.UsedBytes, a.UsedMessages, a.POP3Policy
		ms[i], dis[i], cr[i] = a.ModSeq, a.Disabled, a.Created
	}
	// Deleted first: an address deleted and created again has a new id.
	if _, err := t.Exec(ctx, `DELETE FROM accounts WHERE id <> ALL($1::BIGINT[])`, id); err != nil {
		return fmt.Errorf("deleted accounts: %w", err)
	}
	if _, err := t.Exec(ctx, `DELETE FROM gannet_migrate_accounts WHERE account_id <> ALL($1::BIGINT[])`, id); err != nil {
		return fmt.Errorf("deleted accounts: %w", err)
	}
	_, err := t.Exec(ctx, `INSERT INTO accounts(id, address, domain, password, scram, quota_bytes, quota_messages,
			used_bytes, used_messages, pop3_policy, modseq, disabled, created) OVERRIDING SYSTEM VALUE
		SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BYTEA[], $6::BIGINT[], $7::BIGINT[],
			$8::BIGINT[], $9::BIGINT[], $10::TEXT[], $11::BIGINT[], $12::BOOLEAN[], $13::BIGINT[])
		ON CONFLICT (id) DO UPDATE SET password = EXCLUDED.password, scram = EXCLUDED.scram,
			quota_bytes = EXCLUDED.quota_bytes, quota_messages = EXCLUDED.quota_messages,
			used_bytes = EXCLUDED.used_bytes, used_messages = EXCLUDED.used_messages,
			pop3_policy = EXCLUDED.pop3_policy, modseq = EXCLUDED.modseq, disabled = EXCLUDED.disabled`,
		id, addr, dom, pw, scram, qb, qm, ub, um, pol, ms, dis, cr)
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	if _, err := t.Exec(ctx, `DELETE FROM domains WHERE name <> ALL($1::TEXT[])`, dn); err != nil {
		return fmt.Errorf("deleted domains: %w", err)
	}
	return nil
}

func importMailboxes(ctx context.Context, t pgx.Tx, d *dump.Directory) error {
	n := len(d.Mailboxes)
	id, acc, uv, un, hm := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	msgs, unseen, del, size := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	name, su := make([]string, n), make([]string, n)
	for i, m := range d.Mailboxes {
		id[i], acc[i], name[i], su[i] = m.ID, m.AccountID, m.Name, m.SpecialUse
		uv[i], un[i], hm[i] = m.UIDValidity, m.UIDNext, m.HighestModSeq
		msgs[i], unseen[i], del[i], size[i] = m.Messages, m.Unseen, m.Deleted, m.Size
	}
	// Deleted mailboxes take their messages along (ON DELETE CASCADE) and
	// their tombstones, as DeleteMailbox does.
	if _, err := t.Exec(ctx, `DELETE FROM mailboxes WHERE id <> ALL($1::BIGINT[])`, id); err != nil {
		return fmt.Errorf("deleted mailboxes: %w", err)
	}
	if _, err := t.Exec(ctx, `DELETE FROM tombstones WHERE mailbox_id <> ALL($1::BIGINT[])`, id); err != nil {
		return fmt.Errorf("deleted mailboxes: %w", err)
	}
	// Renamed mailboxes step aside first under a name no mailbox can have
	// (control characters are refused in names): a rename chain (A to B, B
	// to C) must not meet UNIQUE (account_id, name) half-way.
	if _, err := t.Exec(ctx, `UPDATE mailboxes m SET name = E'\x01' || m.id::TEXT
		FROM unnest($1::BIGINT[], $2::TEXT[]) AS u(id, name) WHERE m.id = u.id AND m.name <> u.name`, id, name); err != nil {
		return fmt.Errorf("renamed mailboxes: %w", err)
	}
	// A moved message is not \Recent (store.RecentStore): the mark is
	// UIDNEXT.
	_, err := t.Exec(ctx, `INSERT INTO mailboxes(id, account_id, name, special_use, uidvalidity, uidnext, highest_modseq,
			messages, unseen, deleted, size, recent_uid) OVERRIDING SYSTEM VALUE
		SELECT *, u.uidnext FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::BIGINT[], $7::BIGINT[],
			$8::BIGINT[], $9::BIGINT[], $10::BIGINT[], $11::BIGINT[])
			AS u(id, account_id, name, special_use, uidvalidity, uidnext, highest_modseq, messages, unseen, deleted, size)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, special_use = EXCLUDED.special_use,
			uidnext = EXCLUDED.uidnext, highest_modseq = EXCLUDED.highest_modseq, messages = EXCLUDED.messages,
			unseen = EXCLUDED.unseen, deleted = EXCLUDED.deleted, size = EXCLUDED.size, recent_uid = EXCLUDED.recent_uid`,
		id, acc, name, su, uv, un, hm, msgs, unseen, del, size)
	if err != nil {
		return fmt.Errorf("mailboxes: %w", err)
	}
	return nil
}

// importSmallTables replaces aliases, DKIM keys, subscriptions, webmail
// sessions and Sieve scripts and records whole.
func importSmallTables(ctx context.Context, t pgx.Tx, d *dump.Directory) error {
	if _, err := t.Exec(ctx, `DELETE FROM aliases; DELETE FROM dkim_keys; DELETE FROM subscriptions; DELETE FROM web_sessions;
		DELETE FROM sieve_scripts; DELETE FROM sieve_seen`); err != nil {
		return err
	}
	_, err := t.CopyFrom(ctx, pgx.Identifier{"aliases"}, []string{"address", "target"},
		pgx.CopyFromSlice(len(d.Aliases), func(i int) ([]any, error) {
			return []any{d.Aliases[i].Address, d.Aliases[i].Target}, nil
		}))
	if err != nil {
		return fmt.Errorf("aliases: %w", err)
	}
	_, err = t.CopyFrom(ctx, pgx.Identifier{"dkim_keys"}, []string{"domain", "selector", "algorithm", "pem", "created"},
		pgx.CopyFromSlice(len(d.DKIMKeys), func(i int) ([]any, error) {
			k := d.DKIMKeys[i]
			return []any{k.Domain, k.Selector, k.Algorithm, k.PEM, k.Created}, nil
		}))
	if err != nil {
		return fmt.Errorf("dkim keys: %w", err)
	}
	_, err = t.CopyFrom(ctx, pgx.Identifier{"subscriptions"}, []string{"account_id", "name"},
		pgx.CopyFromSlice(len(d.Subscriptions), func(i int) ([]any, error) {
			return []any{d.Subscriptions[i].AccountID, d.Subscriptions[i].Name}, nil
		}))
	if err != nil {
		return fmt.Errorf("subscriptions: %w", err)
	}
	_, err = t.CopyFrom(ctx, pgx.Identifier{"web_sessions"}, []string{"token_hash", "account_id", "csrf", "credential", "created", "last_seen"},
		pgx.CopyFromSlice(len(d.WebSessions), func(i int) ([]any, error) {
			w := d.WebSessions[i]
			return []any{w.TokenHash, w.AccountID, w.CSRF, w.Credential, w.Created, w.LastSeen}, nil
		}))
	if err != nil {
		return fmt.Errorf("web sessions: %w", err)
	}
	_, err = t.CopyFrom(ctx, pgx.Identifier{"sieve_scripts"}, []string{"account_id", "name", "content", "active", "updated"},
		pgx.CopyFromSlice(len(d.SieveScripts), func(i int) ([]any, error) {
			x := d.SieveScripts[i]
			return []any{x.AccountID, x.Name, x.Content, x.Active, x.Updated}, nil
		}))
	if err != nil {
		return fmt.Errorf("sieve scripts: %w", err)
	}
	_, err = t.CopyFrom(ctx, pgx.Identifier{"sieve_seen"}, []string{"account_id", "kind", "key", "expires"},
		pgx.CopyFromSlice(len(d.SieveSeen), func(i int) ([]any, error) {
			x := d.SieveSeen[i]
			return []any{x.AccountID, x.Kind, x.Key, x.Expires}, nil
		}))
	if err != nil {
		return fmt.Errorf("sieve seen: %w", err)
	}
	return nil
}

// importMarks moves the id sequences past the source's high-water marks
// (and past every id present, and never back), and the UIDVALIDITY counter
// past the source's last one.
func importMarks(ctx context.Context, t pgx.Tx, d *dump.Directory) error {
	for _, x := range []struct {
		table string
		mark  int64
	}{{"accounts", d.Marks.LastAccountID}, {"mailboxes", d.Marks.LastMailboxID}, {"queue_messages", d.Marks.LastQueueID}} {
		_, err := t.Exec(ctx, `SELECT setval(seq, v) FROM (
				SELECT pg_get_serial_sequence($1, 'id')::regclass AS seq) s,
			LATERAL (SELECT greatest($2::BIGINT, coalesce(pg_sequence_last_value(seq), 0),
				(SELECT coalesce(max(id), 0) FROM `+x.table+`)) AS v) g
			WHERE v > 0`, x.table, x.mark)
		if err != nil {
			return fmt.Errorf("sequence of %s: %w", x.table, err)
		}
	}
	if _, err := t.Exec(ctx, `UPDATE uidvalidity SET last = greatest(last, $1::BIGINT,
			(SELECT coalesce(max(uidvalidity), 0) FROM mailboxes))`, d.Marks.UIDValidity); err != nil {
		return fmt.Errorf("uidvalidity: %w", err)
	}
	return nil
}

// ImportMissingBodies returns which of the bodies named by blobs (hex
// SHA-256) the database lacks.
func (s *Store) ImportMissingBodies(ctx context.Context, blobs []string) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT u.blob FROM unnest($1::TEXT[]) AS u(blob)
		WHERE NOT EXISTS (SELECT 1 FROM bodies b WHERE b.blob = u.blob)`, blobs)
	missing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgstore: import: bodies: %w", err)
	}
	return missing, nil
}

// ImportMessages stores bodies (compressed in chunks as a delivery stores
// them, deduplicated by hash) and upserts msgs, whose bodies must be among
// bodies or already stored: a message copied before gets its new MODSEQ,
// flags, keywords and POP3 visibility.
func (s *Store) ImportMessages(ctx context.Context, msgs []dump.Message, bodies []*dump.Body) error {
	if err := s.alive(); err != nil {
		return err
	}
	// Compress (and upload) before the transaction, as a delivery does.
	prepared := make([]*body, len(bodies))
	for i, b := range bodies {
		pb := b.Body
		prepared[i] = s.chunkBody(&pb, b.Raw)
	}
	if err := s.uploadAll(ctx, prepared); err != nil {
		return fmt.Errorf("pgstore: import: %w", err)
	}
	n := len(msgs)
	mb, uid, acc, ms, fl, idate, size := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	kw, blob, hidden := make([]string, n), make([]string, n), make([]bool, n)
	for i, m := range msgs {
		mb[i], uid[i], acc[i], ms[i], fl[i] = m.MailboxID, m.UID, m.AccountID, m.ModSeq, m.Flags
		kw[i], idate[i], size[i], blob[i], hidden[i] = m.Keywords, m.InternalDate, m.Size, m.Blob, m.POPHidden
	}
	err := pgx.BeginFunc(ctx, s.pool, func(t pgx.Tx) error {
		if len(prepared) > 0 {
			q := &pgx.Batch{}
			ids := make([]int64, len(prepared))
			for i, b := range prepared {
				s.queueBody(q, b, &ids[i])
			}
			if err := t.SendBatch(ctx, q).Close(); err != nil {
				return err
			}
		}
		tag, err := t.Exec(ctx, `INSERT INTO messages(mailbox_id, uid, account_id, modseq, flags, keywords, internal_date,
				size, body_id, pop_hidden)
			SELECT u.mailbox_id, u.uid, u.account_id, u.modseq, u.flags, u.keywords, u.internal_date, u.size, b.id, u.pop_hidden
			FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::TEXT[], $7::BIGINT[],
				$8::BIGINT[], $9::TEXT[], $10::BOOLEAN[])
				AS u(mailbox_id, uid, account_id, modseq, flags, keywords, internal_date, size, blob, pop_hidden)
			JOIN bodies b ON b.blob = u.blob
			ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq, flags = EXCLUDED.flags,
				keywords = EXCLUDED.keywords, pop_hidden = EXCLUDED.pop_hidden`,
			mb, uid, acc, ms, fl, kw, idate, size, blob, hidden)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != int64(n) {
			return fmt.Errorf("%d of %d messages stored: a body is missing", tag.RowsAffected(), n)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgstore: import messages: %w", err)
	}
	for _, b := range prepared {
		s.dropUnused(b)
	}
	return nil
}

// ImportTombstones stores tombstones and deletes the messages they stand
// for (expunged on the source since they were copied).
func (s *Store) ImportTombstones(ctx context.Context, ts []dump.Tombstone) error {
	if len(ts) == 0 {
		return nil
	}
	mb, uid, ms := make([]int64, len(ts)), make([]int64, len(ts)), make([]int64, len(ts))
	for i, x := range ts {
		mb[i], uid[i], ms[i] = x.MailboxID, x.UID, x.ModSeq
	}
	err := pgx.BeginFunc(ctx, s.pool, func(t pgx.Tx) error {
		if _, err := t.Exec(ctx, `DELETE FROM messages m USING unnest($1::BIGINT[], $2::BIGINT[]) AS u(mailbox_id, uid)
			WHERE m.mailbox_id = u.mailbox_id AND m.uid = u.uid`, mb, uid); err != nil {
			return err
		}
		_, err := t.Exec(ctx, `INSERT INTO tombstones(mailbox_id, uid, modseq)
			SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[])
			ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq`, mb, uid, ms)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: import tombstones: %w", err)
	}
	return nil
}

// ImportPOPHidden marks the messages in keys hidden from POP3 (hiding one
// bumps no MODSEQ, so a catch-up passes them all).
func (s *Store) ImportPOPHidden(ctx context.Context, keys []dump.Key) error {
	mb, uid := make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		mb[i], uid[i] = k.MailboxID, k.UID
	}
	_, err := s.pool.Exec(ctx, `UPDATE messages m SET pop_hidden = TRUE FROM unnest($1::BIGINT[], $2::BIGINT[]) AS u(mailbox_id, uid)
		WHERE m.mailbox_id = u.mailbox_id AND m.uid = u.uid AND NOT m.pop_hidden`, mb, uid)
	if err != nil {
		return fmt.Errorf("pgstore: import pop3-hidden: %w", err)
	}
	return nil
}

// ImportAccountCopied records that an account's mail is copied up to
// MODSEQ modseq.
func (s *Store) ImportAccountCopied(ctx context.Context, accountID, modseq int64) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO gannet_migrate_accounts(account_id, modseq) VALUES($1, $2)
		ON CONFLICT (account_id) DO UPDATE SET modseq = EXCLUDED.modseq`, accountID, modseq)
	if err != nil {
		return fmt.Errorf("pgstore: import: account %d: %w", accountID, err)
	}
	return nil
}

// ImportQueueIDs returns the ids of the queued messages already copied.
func (s *Store) ImportQueueIDs(ctx context.Context) (map[int64]bool, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id FROM queue_messages`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("pgstore: import: queue: %w", err)
	}
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// ImportQueue makes the outbound queue equal to q: messages gone from the
// source (delivered or bounced) are deleted, new ones inserted with their
// ids and bytes (q's Data, nil for a message already here), and every
// recipient's attempt state replaced. No lease is held after a move.
func (s *Store) ImportQueue(ctx context.Context, q []dump.QueueMessage) error {
	ids := make([]int64, len(q))
	for i, m := range q {
		ids[i] = m.ID
	}
	err := pgx.BeginFunc(ctx, s.pool, func(t pgx.Tx) error {
		if _, err := t.Exec(ctx, `DELETE FROM queue_messages WHERE id <> ALL($1::BIGINT[])`, ids); err != nil {
			return err
		}
		if _, err := t.Exec(ctx, `DELETE FROM queue_recipients`); err != nil {
			return err
		}
		var rcpts [][]any
		for _, m := range q {
			if m.Data != nil {
				if _, err := t.Exec(ctx, `INSERT INTO queue_messages(id, mail_from, account_id, env_id, ret, size, data, created)
					OVERRIDING SYSTEM VALUE VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
					m.ID, m.MailFrom, m.AccountID, m.EnvID, m.Ret, m.Size, m.Data, m.Created); err != nil {
					return fmt.Errorf("queued message %d: %w", m.ID, err)
				}
			}
			for _, r := range m.Recipients {
				rcpts = append(rcpts, []any{m.ID, r.Address, r.Domain, r.Notify, r.ORcpt, r.Attempts,
					r.NextAttempt, r.LastAttempt, r.LastError, r.DelayNotified})
			}
		}
		_, err := t.CopyFrom(ctx, pgx.Identifier{"queue_recipients"}, []string{"message_id", "address", "domain", "notify",
			"orcpt", "attempts", "next_attempt", "last_attempt", "last_error", "delay_notified"}, pgx.CopyFromRows(rcpts))
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: import queue: %w", err)
	}
	return nil
}

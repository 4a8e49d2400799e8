package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

// verifyPage is how many bodies Verify lists at a time (bounded memory
// whatever the store's size).
const verifyPage = 1000

// Verify checks the store and calls problem once for every fault it finds,
// in plain words (`gannet verify`, docs/ARCHITECTURE.md "Backups"): every
// message against its body and mailbox; the mailbox counters and the
// accounts' usage recomputed from the message rows, in one REPEATABLE READ
// snapshot; then every body read back as a client would (its chunks from
// body_chunks or the object store: each decompresses, with its checksum, to
// its length), hashed and sized. PostgreSQL keeps its own pages and foreign
// keys sound; for that, use its tools (amcheck, pg_checksums). It changes
// nothing. The error is for what kept the check from running.
func (s *Store) Verify(ctx context.Context, problem func(string)) (store.VerifyStats, error) {
	var st store.VerifyStats
	if err := s.alive(); err != nil {
		return st, err
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return st, fmt.Errorf("verify: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	report := func(format string, args ...any) {
		st.Problems++
		problem(fmt.Sprintf(format, args...))
	}
	if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM mailboxes),
		(SELECT count(*) FROM messages), (SELECT count(*) FROM bodies)`).
		Scan(&st.Accounts, &st.Mailboxes, &st.Messages, &st.Bodies); err != nil {
		return st, fmt.Errorf("verify: %w", err)
	}
	names := map[int64]string{}
	if err := verifyEach(ctx, tx, `SELECT m.id, a.address || '/' || m.name FROM mailboxes m JOIN accounts a ON a.id = m.account_id`,
		func(rows pgx.Rows) error {
			var id int64
			var n string
			err := rows.Scan(&id, &n)
			names[id] = n
			return err
		}); err != nil {
		return st, fmt.Errorf("verify: mailbox names: %w", err)
	}
	where := func(mb, uid int64) string {
		if n, ok := names[mb]; ok {
			return fmt.Sprintf("%s uid %d", n, uid)
		}
		return fmt.Sprintf("mailbox %d (missing) uid %d", mb, uid)
	}
	err = verifyEach(ctx, tx, `SELECT m.mailbox_id, m.uid, m.size, b.size, x.account_id, m.account_id, x.uidnext,
			m.modseq, x.highest_modseq, coalesce(a.modseq, 0)
		FROM messages m JOIN bodies b ON b.id = m.body_id JOIN mailboxes x ON x.id = m.mailbox_id
			LEFT JOIN accounts a ON a.id = m.account_id
		WHERE b.size <> m.size OR x.account_id <> m.account_id OR m.uid >= x.uidnext
			OR m.modseq > x.highest_modseq OR a.id IS NULL OR m.modseq > a.modseq`,
		func(rows pgx.Rows) error {
			var mb, uid, size, bodySize, mbAccount, account, uidnext, modseq, highest, accModseq int64
			if err := rows.Scan(&mb, &uid, &size, &bodySize, &mbAccount, &account, &uidnext, &modseq, &highest, &accModseq); err != nil {
				return err
			}
			at := where(mb, uid)
			if bodySize != size {
				report("%s: the message's size is %d bytes, its body's %d", at, size, bodySize)
			}
			if mbAccount != account {
				report("%s: the message says account %d, its mailbox belongs to account %d", at, account, mbAccount)
			}
			if uid >= uidnext {
				report("%s: UID not below the mailbox's UIDNEXT %d", at, uidnext)
			}
			if modseq > highest {
				report("%s: MODSEQ %d above the mailbox's HIGHESTMODSEQ %d", at, modseq, highest)
			}
			if accModseq == 0 {
				report("%s: the message's account %d does not exist", at, account)
			} else if modseq > accModseq {
				report("%s: MODSEQ %d above the account's %d", at, modseq, accModseq)
			}
			return nil
		})
	if err != nil {
		return st, fmt.Errorf("verify: messages: %w", err)
	}
	err = verifyEach(ctx, tx, `SELECT x.id, x.messages, x.unseen, x.deleted, x.size,
			count(m.uid), count(m.uid) FILTER (WHERE m.flags & $1 = 0), count(m.uid) FILTER (WHERE m.flags & $2 <> 0),
			coalesce(sum(m.size), 0)::bigint
		FROM mailboxes x LEFT JOIN messages m ON m.mailbox_id = x.id GROUP BY x.id ORDER BY x.id`,
		func(rows pgx.Rows) error {
			var id int64
			var have, want [4]int64
			if err := rows.Scan(&id, &have[0], &have[1], &have[2], &have[3], &want[0], &want[1], &want[2], &want[3]); err != nil {
				return err
			}
			for i, name := range []string{"messages", "unseen", "deleted", "size"} {
				if have[i] != want[i] {
					report("mailbox %s: counter %s is %d, the messages say %d", names[id], name, have[i], want[i])
				}
			}
			return nil
		}, store.FlagBitSeen, store.FlagBitDeleted)
	if err != nil {
		return st, fmt.Errorf("verify: mailbox counters: %w", err)
	}
	err = verifyEach(ctx, tx, `SELECT a.address, a.used_messages, a.used_bytes, count(m.uid), coalesce(sum(m.size), 0)::bigint
		FROM accounts a LEFT JOIN messages m ON m.account_id = a.id GROUP BY a.id ORDER BY a.id`,
		func(rows pgx.Rows) error {
			var addr string
			var usedMsgs, usedBytes, msgs, bytes int64
			if err := rows.Scan(&addr, &usedMsgs, &usedBytes, &msgs, &bytes); err != nil {
				return err
			}
			if usedMsgs != msgs {
				report("account %s: quota usage says %d messages, it has %d", addr, usedMsgs, msgs)
			}
			if usedBytes != bytes {
				report("account %s: quota usage says %d bytes, its messages total %d", addr, usedBytes, bytes)
			}
			return nil
		})
	if err != nil {
		return st, fmt.Errorf("verify: account usage: %w", err)
	}
	if err := s.verifyBodies(ctx, tx, &st, report, where); err != nil {
		return st, err
	}
	return st, nil
}

// verifyBodies reads every body of the snapshot, a page at a time, through
// Open (outside the snapshot: a body collected since is skipped).
func (s *Store) verifyBodies(ctx context.Context, tx pgx.Tx, st *store.VerifyStats, report func(string, ...any), where func(int64, int64) string) error {
	type body struct {
		id      int64
		blob    string
		size    int64
		n       int64
		mb, uid int64
	}
	var after int64
	for {
		var page []body
		err := verifyEach(ctx, tx, `SELECT b.id, b.blob, b.size,
				(SELECT count(*) FROM messages m WHERE m.body_id = b.id),
				coalesce((SELECT min(m.mailbox_id) FROM messages m WHERE m.body_id = b.id), 0)
			FROM bodies b WHERE b.id > $1 ORDER BY b.id LIMIT $2`, func(rows pgx.Rows) error {
			var b body
			err := rows.Scan(&b.id, &b.blob, &b.size, &b.n, &b.mb)
			page = append(page, b)
			return err
		}, after, verifyPage)
		if err != nil {
			return fmt.Errorf("verify: bodies: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		after = page[len(page)-1].id
		for _, b := range page {
			if err := ctx.Err(); err != nil {
				return err
			}
			st.BodyBytes += b.size
			what := s.checkBody(ctx, b.blob, b.size)
			if what == "" {
				continue
			}
			if errors.Is(s.bodyGone(ctx, b.id), pgx.ErrNoRows) {
				continue // collected since the snapshot
			}
			if b.n == 0 {
				report("body %s (no message uses it): %s", b.blob, what)
				continue
			}
			if err := tx.QueryRow(ctx, `SELECT min(uid) FROM messages WHERE body_id = $1 AND mailbox_id = $2`, b.id, b.mb).Scan(&b.uid); err != nil {
				return fmt.Errorf("verify: body %s: %w", b.blob, err)
			}
			if b.n == 1 {
				report("%s: body %s: %s", where(b.mb, b.uid), b.blob, what)
			} else {
				report("%s and %d more messages: body %s: %s", where(b.mb, b.uid), b.n-1, b.blob, what)
			}
		}
	}
}

// bodyGone returns pgx.ErrNoRows when the body no longer exists.
func (s *Store) bodyGone(ctx context.Context, id int64) error {
	var one int
	return s.pool.QueryRow(ctx, `SELECT 1 FROM bodies WHERE id = $1`, id).Scan(&one)
}

// checkBody reads a body and says what is wrong with it ("" = nothing).
func (s *Store) checkBody(ctx context.Context, blob string, size int64) string {
	rc, err := s.Open(ctx, blob)
	if err != nil {
		return fmt.Sprintf("cannot be read (%v)", err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Sprintf("is damaged (%v)", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != blob {
		return "the bytes do not match their SHA-256 (damaged: they hash to " + got + ")"
	}
	if n != size {
		return fmt.Sprintf("%d bytes, the database says %d", n, size)
	}
	return ""
}

// verifyEach runs a query in tx and calls fn for every row.
func verifyEach(ctx context.Context, tx pgx.Tx, q string, fn func(pgx.Rows) error, args ...any) error {
	rows, err := tx.Query(ctx, q, args...)
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

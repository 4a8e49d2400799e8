package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gannet/internal/store"
	"gannet/internal/store/blobstore"
)

// Verify checks the store in dir and calls problem once for every fault it
// finds, in plain words (`gannet verify`, docs/ARCHITECTURE.md "Backups"):
// SQLite's integrity_check and foreign_key_check; every message has its
// body, of its size; every body's bytes (the blob file, or the inline copy)
// exist, decompress, hash to the body's id and have its size; the mailbox
// counters (messages, unseen, deleted, size, UIDNEXT, HIGHESTMODSEQ) and
// the accounts' usage and MODSEQ agree with the message rows. It changes
// nothing: the database is opened query-only and read in one transaction, a
// snapshot while a server goes on writing. The error is for what kept the
// check from running (no database, a read error), not for what it found.
func Verify(ctx context.Context, dir string, problem func(string)) (store.VerifyStats, error) {
	var st store.VerifyStats
	path := filepath.Join(dir, "gannet.db")
	if _, err := os.Stat(path); err != nil {
		return st, fmt.Errorf("verify: no Gannet database in %s: %w", dir, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(ON)")
	if err != nil {
		return st, fmt.Errorf("verify: %w", err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return st, fmt.Errorf("verify: %w", err)
	}
	defer tx.Rollback()
	if err := checkSchema(ctx, db); err != nil {
		return st, fmt.Errorf("verify: %w", err)
	}
	v := &verifier{tx: tx, db: db, problem: problem, st: &st}
	// The snapshot starts at the first read (see Snapshot).
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM mailboxes),
		(SELECT count(*) FROM messages), (SELECT count(*) FROM bodies)`).
		Scan(&st.Accounts, &st.Mailboxes, &st.Messages, &st.Bodies); err != nil {
		return st, fmt.Errorf("verify: %w", err)
	}
	if err := v.names(ctx); err != nil {
		return st, err
	}
	for _, check := range []func(context.Context) error{v.integrity, v.foreignKeys, v.messages, v.mailboxCounters, v.accountUsage} {
		if err := check(ctx); err != nil {
			return st, err
		}
	}
	if err := v.bodies(ctx, BlobDir(dir)); err != nil {
		return st, err
	}
	return st, nil
}

type verifier struct {
	tx      *sql.Tx
	db      *sql.DB // outside the snapshot: is a missing body still current?
	problem func(string)
	st      *store.VerifyStats
	mailbox map[int64]string // id → "address/name", for messages to name where they are
}

func (v *verifier) report(format string, args ...any) {
	v.st.Problems++
	v.problem(fmt.Sprintf(format, args...))
}

// names loads every mailbox's "address/name".
func (v *verifier) names(ctx context.Context) error {
	v.mailbox = map[int64]string{}
	return v.each(ctx, "mailbox names", `SELECT m.id, coalesce(a.address, '(account '||m.account_id||')'), m.name
		FROM mailboxes m LEFT JOIN accounts a ON a.id = m.account_id`, func(rows *sql.Rows) error {
		var id int64
		var addr, name string
		err := rows.Scan(&id, &addr, &name)
		v.mailbox[id] = addr + "/" + name
		return err
	})
}

// where names a message: "alice@example.com/INBOX uid 7".
func (v *verifier) where(mailboxID, uid int64) string {
	if n, ok := v.mailbox[mailboxID]; ok {
		return fmt.Sprintf("%s uid %d", n, uid)
	}
	return fmt.Sprintf("mailbox %d (missing) uid %d", mailboxID, uid)
}

func (v *verifier) each(ctx context.Context, what, q string, fn func(*sql.Rows) error, args ...any) error {
	rows, err := v.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("verify: %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return fmt.Errorf("verify: %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify: %s: %w", what, err)
	}
	return nil
}

func (v *verifier) integrity(ctx context.Context) error {
	return v.each(ctx, "integrity check", `PRAGMA integrity_check`, func(rows *sql.Rows) error {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		if s != "ok" {
			v.report("database: %s", s)
		}
		return nil
	})
}

func (v *verifier) foreignKeys(ctx context.Context) error {
	return v.each(ctx, "foreign key check", `PRAGMA foreign_key_check`, func(rows *sql.Rows) error {
		var table, parent string
		var rowid sql.NullInt64
		var fk int64
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			return err
		}
		if rowid.Valid {
			v.report("database: row %d of table %s refers to a row of %s that does not exist", rowid.Int64, table, parent)
		} else {
			v.report("database: a row of table %s refers to a row of %s that does not exist", table, parent)
		}
		return nil
	})
}

// messages checks each message against its body and its mailbox.
func (v *verifier) messages(ctx context.Context) error {
	return v.each(ctx, "messages", `SELECT m.mailbox_id, m.uid, m.size, m.blob, b.size, x.id IS NOT NULL,
			coalesce(x.account_id, 0), m.account_id, coalesce(x.uidnext, 0), m.modseq, coalesce(x.highest_modseq, 0),
			coalesce(a.modseq, 0)
		FROM messages m LEFT JOIN bodies b ON b.blob = m.blob LEFT JOIN mailboxes x ON x.id = m.mailbox_id
			LEFT JOIN accounts a ON a.id = m.account_id
		WHERE b.blob IS NULL OR b.size <> m.size OR x.id IS NULL OR x.account_id <> m.account_id
			OR m.uid >= x.uidnext OR m.modseq > x.highest_modseq OR a.id IS NULL OR m.modseq > a.modseq`,
		func(rows *sql.Rows) error {
			var mb, uid, size, accountID, msgAccount, uidnext, modseq, highest, accModseq int64
			var blob string
			var bodySize sql.NullInt64
			var hasMailbox bool
			if err := rows.Scan(&mb, &uid, &size, &blob, &bodySize, &hasMailbox, &accountID, &msgAccount, &uidnext,
				&modseq, &highest, &accModseq); err != nil {
				return err
			}
			at := v.where(mb, uid)
			switch {
			case !hasMailbox:
				v.report("%s: the message's mailbox does not exist", at)
				return nil
			case accountID != msgAccount:
				v.report("%s: the message says account %d, its mailbox belongs to account %d", at, msgAccount, accountID)
			}
			if !bodySize.Valid {
				v.report("%s: the message's body %s is not in the database", at, blob)
			} else if bodySize.Int64 != size {
				v.report("%s: the message's size is %d bytes, its body's %d", at, size, bodySize.Int64)
			}
			if uid >= uidnext {
				v.report("%s: UID not below the mailbox's UIDNEXT %d", at, uidnext)
			}
			if modseq > highest {
				v.report("%s: MODSEQ %d above the mailbox's HIGHESTMODSEQ %d", at, modseq, highest)
			}
			if accModseq == 0 {
				v.report("%s: the message's account %d does not exist", at, msgAccount)
			} else if modseq > accModseq {
				v.report("%s: MODSEQ %d above the account's %d", at, modseq, accModseq)
			}
			return nil
		})
}

// mailboxCounters compares each mailbox's counters with its messages
// (kept by every write, docs/ARCHITECTURE.md; schema 0001's comment).
func (v *verifier) mailboxCounters(ctx context.Context) error {
	return v.each(ctx, "mailbox counters", `SELECT x.id, x.messages, x.unseen, x.deleted, x.size,
			count(m.uid), coalesce(sum(m.flags & ?1 = 0), 0), coalesce(sum(m.flags & ?2 <> 0), 0), coalesce(sum(m.size), 0)
		FROM mailboxes x LEFT JOIN messages m ON m.mailbox_id = x.id GROUP BY x.id ORDER BY x.id`,
		func(rows *sql.Rows) error {
			var id int64
			var have, want [4]int64
			if err := rows.Scan(&id, &have[0], &have[1], &have[2], &have[3], &want[0], &want[1], &want[2], &want[3]); err != nil {
				return err
			}
			for i, name := range []string{"messages", "unseen", "deleted", "size"} {
				if have[i] != want[i] {
					v.report("mailbox %s: counter %s is %d, the messages say %d", v.mailbox[id], name, have[i], want[i])
				}
			}
			return nil
		}, store.FlagBitSeen, store.FlagBitDeleted)
}

// accountUsage compares each account's quota usage with its messages.
func (v *verifier) accountUsage(ctx context.Context) error {
	return v.each(ctx, "account usage", `SELECT a.address, a.used_messages, a.used_bytes,
			(SELECT count(*) FROM messages m WHERE m.account_id = a.id),
			(SELECT coalesce(sum(size), 0) FROM messages m WHERE m.account_id = a.id)
		FROM accounts a ORDER BY a.id`,
		func(rows *sql.Rows) error {
			var addr string
			var usedMsgs, usedBytes, msgs, bytes int64
			if err := rows.Scan(&addr, &usedMsgs, &usedBytes, &msgs, &bytes); err != nil {
				return err
			}
			if usedMsgs != msgs {
				v.report("account %s: quota usage says %d messages, it has %d", addr, usedMsgs, msgs)
			}
			if usedBytes != bytes {
				v.report("account %s: quota usage says %d bytes, its messages total %d", addr, usedBytes, bytes)
			}
			return nil
		})
}

// bodies reads every body's bytes, from its blob file or inline, and checks
// they decompress, hash to its id and have its size.
func (v *verifier) bodies(ctx context.Context, blobDir string) error {
	var blobs *blobstore.Store
	if fi, err := os.Stat(blobDir); err == nil && fi.IsDir() {
		// blobstore.Open creates nothing when the directory exists.
		if blobs, err = blobstore.Open(blobDir); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		defer blobs.Close()
	}
	codec, err := blobstore.NewCodec()
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer codec.Close()
	type bad struct{ id, what string }
	after := ""
	for {
		// A page at a time, so that the faults held before they are
		// reported stay few whatever the store's size.
		var faults []bad
		n := 0
		err = v.each(ctx, "bodies", `SELECT blob, size, data FROM bodies WHERE blob > ? ORDER BY blob LIMIT ?`, func(rows *sql.Rows) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var id string
			var size int64
			var data []byte
			if err := rows.Scan(&id, &size, &data); err != nil {
				return err
			}
			n++
			after = id
			v.st.BodyBytes += size
			var what string
			if data != nil {
				what = checkInline(codec, id, size, data)
			} else {
				what = checkFile(blobs, blobDir, id, size)
			}
			if what != "" {
				faults = append(faults, bad{id, what})
			}
			return nil
		}, after, verifyPage)
		if err != nil {
			return err
		}
		for _, f := range faults {
			if err := v.reportBody(ctx, f.id, f.what); err != nil {
				return err
			}
		}
		if n < verifyPage {
			return nil
		}
	}
}

// verifyPage is how many bodies Verify reads before it reports their faults.
const verifyPage = 500

// reportBody reports a body's fault with the messages that use it, unless
// a live server collected the body since the snapshot (its row deleted,
// then its file): that is no fault.
func (v *verifier) reportBody(ctx context.Context, id, what string) error {
	var one int
	err := v.db.QueryRowContext(ctx, `SELECT 1 FROM bodies WHERE blob = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	var n, mb, uid int64
	if err := v.tx.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE blob = ?`, id).Scan(&n); err != nil {
		return fmt.Errorf("verify: body %s: %w", id, err)
	}
	if n > 0 {
		if err := v.tx.QueryRowContext(ctx, `SELECT mailbox_id, uid FROM messages WHERE blob = ?
			ORDER BY mailbox_id, uid LIMIT 1`, id).Scan(&mb, &uid); err != nil {
			return fmt.Errorf("verify: body %s: %w", id, err)
		}
	}
	switch n {
	case 0:
		v.report("body %s (no message uses it): %s", id, what)
	case 1:
		v.report("%s: body %s: %s", v.where(mb, uid), id, what)
	default:
		v.report("%s and %d more messages: body %s: %s", v.where(mb, uid), n-1, id, what)
	}
	return nil
}

func checkInline(codec *blobstore.Codec, id string, size int64, data []byte) string {
	raw, err := codec.Decompress(data, size)
	if err != nil {
		return "the bytes stored in the database do not decompress (damaged)"
	}
	return checkSum(id, size, int64(len(raw)), sha256.Sum256(raw))
}

func checkFile(blobs *blobstore.Store, blobDir, id string, size int64) string {
	file := filepath.Join(blobDir, id[:min(2, len(id))], id)
	if blobs == nil {
		return "the message file " + file + " is missing"
	}
	rc, err := blobs.Open(id)
	if errors.Is(err, os.ErrNotExist) {
		return "the message file " + file + " is missing"
	}
	if err != nil {
		return fmt.Sprintf("the message file %s cannot be read (%v)", file, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if errors.Is(err, blobstore.ErrCorrupt) {
		return "the message file " + file + " is damaged (it does not decompress)"
	}
	if err != nil {
		return fmt.Sprintf("the message file %s cannot be read (%v)", file, err)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return checkSum(id, size, n, sum)
}

func checkSum(id string, size, n int64, sum [sha256.Size]byte) string {
	if got := hex.EncodeToString(sum[:]); got != id {
		return "the bytes do not match their SHA-256 (damaged: they hash to " + got + ")"
	}
	if n != size {
		return fmt.Sprintf("%d bytes, the database says %d", n, size)
	}
	return ""
}

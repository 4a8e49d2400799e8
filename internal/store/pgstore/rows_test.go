package pgstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"gannet/internal/store"
)

// Direct-SQL fixtures for the tests of Search and GC, which were written
// before the delivery path existed on their branch: they write the rows a
// delivery writes (bodies per store.Ingest, zstd chunks, messages) following
// the body protocol documented in gc.go.

// testChunk is the raw chunk size the fixtures use: small, so that a short
// test message spans several chunks.
const testChunk = 64

// fixture is one account with one mailbox on a fresh database.
type fixture struct {
	s       *Store
	account int64
	mailbox int64
	enc     *zstd.Encoder
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	s := openTest(t)
	ctx := t.Context()
	f := &fixture{s: s}
	now := time.Now().Unix()
	if _, err := s.pool.Exec(ctx, `INSERT INTO domains(name, created) VALUES ('example.org', $1)`, now); err != nil {
		t.Fatal(err)
	}
	if err := s.pool.QueryRow(ctx, `INSERT INTO accounts(address, domain, password, created)
		VALUES ('alice@example.org', 'example.org', 'x', $1) RETURNING id`, now).Scan(&f.account); err != nil {
		t.Fatal(err)
	}
	f.mailbox = f.addMailbox(t, "INBOX")
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enc.Close() })
	f.enc = enc
	return f
}

func (f *fixture) addMailbox(t testing.TB, name string) int64 {
	t.Helper()
	var id int64
	if err := f.s.pool.QueryRow(t.Context(), `INSERT INTO mailboxes(account_id, name, uidvalidity)
		VALUES ($1, $2, 1) RETURNING id`, f.account, name).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// storeBody stores a body as a delivery does (gc.go, step 1): INSERT ... ON CONFLICT (blob) DO UPDATE SET
// created = EXCLUDED.created RETURNING id, which locks the row to commit; the
// chunks are written only when the row is new.
func (f *fixture) storeBody(ctx context.Context, t *tx, raw []byte) (int64, error) {
	b := store.Ingest(raw)
	var id int64
	var inserted bool
	err := t.QueryRow(ctx, `INSERT INTO bodies(blob, size, subject, h_from, h_to, h_cc, h_bcc,
			sent_date, sent_day, parsed, header, created)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (blob) DO UPDATE SET created = EXCLUDED.created
		RETURNING id, xmax = 0`,
		b.ID, b.Size, b.Subject, b.From, b.To, b.Cc, b.Bcc, b.SentDate, b.SentDay, b.Parsed, b.Header,
		f.s.now().Unix()).Scan(&id, &inserted)
	if err != nil {
		return 0, fmt.Errorf("body: %w", err)
	}
	if !inserted {
		return id, nil
	}
	for n := 0; n*testChunk < len(raw); n++ {
		chunk := raw[n*testChunk : min((n+1)*testChunk, len(raw))]
		if _, err := t.Exec(ctx, `INSERT INTO body_chunks(body_id, n, data) VALUES ($1, $2, $3)`,
			id, n, f.enc.EncodeAll(chunk, nil)); err != nil {
			return 0, fmt.Errorf("chunk: %w", err)
		}
	}
	return id, nil
}

// testMsg is a message row to insert.
type testMsg struct {
	mailbox int64 // 0: the fixture's mailbox
	uid     uint32
	modseq  uint64
	flags   store.FlagSet
	date    time.Time
	raw     []byte
}

// deliverRow inserts a message and its body in one transaction; pause, if
// set, runs between storing the body and inserting the message (the window
// GC must respect).
func (f *fixture) deliverRow(ctx context.Context, m testMsg, pause func()) error {
	if m.mailbox == 0 {
		m.mailbox = f.mailbox
	}
	if m.modseq == 0 {
		m.modseq = 1
	}
	if m.date.IsZero() {
		m.date = time.Now()
	}
	return f.s.write(ctx, func(ctx context.Context, t *tx) error {
		bodyID, err := f.storeBody(ctx, t, m.raw)
		if err != nil {
			return err
		}
		if pause != nil {
			pause()
		}
		_, err = t.Exec(ctx, `INSERT INTO messages(mailbox_id, uid, account_id, modseq, flags, keywords,
				internal_date, size, body_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			m.mailbox, int64(m.uid), f.account, int64(m.modseq), m.flags.Bits, m.flags.KeywordString(),
			m.date.Unix(), int64(len(m.raw)), bodyID)
		return err
	})
}

func (f *fixture) deliver(t testing.TB, m testMsg) {
	t.Helper()
	if err := f.deliverRow(t.Context(), m, nil); err != nil {
		t.Fatal(err)
	}
}

package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"gannet/internal/store"
)

// testAccounts creates accounts with an INBOX by SQL, so that these tests
// depend only on this file's subject, not on AddAccount.
func testAccounts(t *testing.T, s *Store, n int) []int64 {
	t.Helper()
	var ids []int64
	err := s.write(t.Context(), func(ctx context.Context, tx *tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO domains(name, created) VALUES('example.org', 0)`); err != nil {
			return err
		}
		for i := range n {
			var id int64
			if err := tx.QueryRow(ctx, `INSERT INTO accounts(address, domain, password, created)
				VALUES($1, 'example.org', '', 0) RETURNING id`, fmt.Sprintf("u%d@example.org", i)).Scan(&id); err != nil {
				return err
			}
			if _, err := createMailboxTx(ctx, tx, id, "INBOX", ""); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func bigRaw(n int) []byte {
	var b strings.Builder
	b.WriteString("Subject: big\r\n\r\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %07d %x\r\n", i, i*2654435761)
	}
	return []byte(b.String())
}

func readRange(t *testing.T, s *Store, blob string, off, n int64) ([]byte, error) {
	t.Helper()
	rc, err := s.OpenRange(t.Context(), blob, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// TestBodyChunks: a body is stored in chunkSize pieces compressed one by
// one, and a range reads only the chunks it covers: with chunk 0 damaged, a
// range inside chunk 2 still reads, one touching chunk 0 fails.
func TestBodyChunks(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	ids := testAccounts(t, s, 1)
	raw := bigRaw(3*chunkSize + 1000)
	res, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: ids[0]}}})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := s.List(ctx, ids[0], res[0].MailboxID, nil, store.ListOptions{})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("List: %v, %d messages", err, len(msgs))
	}
	blob := msgs[0].BlobID
	var chunks int
	var stored int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*), sum(length(data)) FROM body_chunks c JOIN bodies b ON b.id = c.body_id
		WHERE b.blob = $1`, blob).Scan(&chunks, &stored); err != nil {
		t.Fatal(err)
	}
	if chunks != 4 {
		t.Errorf("%d chunks for %d bytes, want 4", chunks, len(raw))
	}
	if stored >= int64(len(raw))/2 {
		t.Errorf("chunks hold %d bytes for %d of text: not compressed", stored, len(raw))
	}
	// Across chunk boundaries, and the whole.
	for _, r := range [][2]int64{{chunkSize - 5, 10}, {chunkSize - 1, 2*chunkSize + 2}, {0, int64(len(raw))}, {3 * chunkSize, 1000}} {
		got, err := readRange(t, s, blob, r[0], r[1])
		if err != nil || !bytes.Equal(got, raw[r[0]:r[0]+r[1]]) {
			t.Errorf("OpenRange(%d, %d): %v, %d bytes, equal %v", r[0], r[1], err, len(got), bytes.Equal(got, raw[r[0]:r[0]+r[1]]))
		}
	}
	// Ranges past the end are truncated, however large.
	if got, err := readRange(t, s, blob, 10, math.MaxInt64); err != nil || !bytes.Equal(got, raw[10:]) {
		t.Errorf("OpenRange(10, MaxInt64): %v, %d bytes, want %d", err, len(got), len(raw)-10)
	}
	if got, err := readRange(t, s, blob, 1<<50, 10); err != nil || len(got) != 0 {
		t.Errorf("OpenRange(2^50, 10): %v, %d bytes, want none", err, len(got))
	}
	if _, err := s.pool.Exec(ctx, `UPDATE body_chunks SET data = '\x00'::BYTEA
		WHERE n = 0 AND body_id = (SELECT id FROM bodies WHERE blob = $1)`, blob); err != nil {
		t.Fatal(err)
	}
	if got, err := readRange(t, s, blob, 2*chunkSize+10, 100); err != nil || !bytes.Equal(got, raw[2*chunkSize+10:2*chunkSize+110]) {
		t.Errorf("range in chunk 2 with chunk 0 damaged: %v", err)
	}
	if _, err := readRange(t, s, blob, 10, 100); err == nil {
		t.Errorf("range in damaged chunk 0 read without error")
	}
}

// TestDeliverSameContentConcurrently: deliveries of one content racing on
// the bodies row all succeed and share one body.
func TestDeliverSameContentConcurrently(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ids := testAccounts(t, s, 8)
	raw := []byte("Subject: same\r\n\r\nthe same bytes for everyone\r\n")
	var wg sync.WaitGroup
	for _, id := range ids {
		for range 3 {
			wg.Go(func() {
				if _, err := s.Deliver(context.Background(), store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: id}}}); err != nil {
					t.Errorf("Deliver to %d: %v", id, err)
				}
			})
		}
	}
	wg.Wait()
	var bodies, messages int
	if err := s.pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM bodies), (SELECT count(*) FROM messages)`).Scan(&bodies, &messages); err != nil {
		t.Fatal(err)
	}
	if bodies != 1 || messages != 3*len(ids) {
		t.Errorf("%d bodies, %d messages; want 1 and %d", bodies, messages, 3*len(ids))
	}
}

// TestDeliverCrossingRecipients: multi-recipient deliveries naming the same
// accounts in opposite orders neither deadlock nor fail (the accounts are
// locked in id order), and each account gets UIDs 1..n without gaps and
// strictly increasing MODSEQs.
func TestDeliverCrossingRecipients(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ids := testAccounts(t, s, 4)
	const per = 10
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range per {
				rcpts := make([]store.Recipient, len(ids))
				for j, id := range ids {
					if w%2 == 1 {
						id = ids[len(ids)-1-j]
					}
					rcpts[j] = store.Recipient{AccountID: id}
				}
				raw := fmt.Appendf(nil, "Subject: %d/%d\r\n\r\nbody\r\n", w, i)
				if _, err := s.Deliver(context.Background(), store.Delivery{Raw: raw, Recipients: rcpts}); err != nil {
					t.Errorf("Deliver %d/%d: %v", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		mb, err := s.Mailbox(t.Context(), id, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := s.List(t.Context(), id, mb.ID, nil, store.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 4*per || mb.Messages != 4*per || mb.UIDNext != 4*per+1 {
			t.Fatalf("account %d: %d messages listed, counter %d, UIDNEXT %d; want %d", id, len(msgs), mb.Messages, mb.UIDNext, 4*per)
		}
		for i, m := range msgs {
			if m.UID != uint32(i+1) || (i > 0 && m.ModSeq <= msgs[i-1].ModSeq) {
				t.Fatalf("account %d: message %d has UID %d MODSEQ %d after MODSEQ %d", id, i, m.UID, m.ModSeq, msgs[max(i-1, 0)].ModSeq)
			}
		}
	}
}

// TestAppendRefusals: an Append that stores nothing says why in sqlstore's
// order (account, quota, mailbox) and changes nothing.
func TestAppendRefusals(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	ids := testAccounts(t, s, 2)
	own, err := s.Mailbox(ctx, ids[0], "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Mailbox(ctx, ids[1], "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte("Subject: x\r\n\r\nx\r\n")
	check := func(what string, account, mailbox int64, want error) {
		t.Helper()
		_, err := s.Append(ctx, account, mailbox, raw, nil, time.Time{})
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", what, err, want)
		}
	}
	check("unknown account", 1<<40, own.ID, store.ErrNotFound)
	check("another account's mailbox", ids[0], other.ID, store.ErrNotFound)
	if _, err := s.pool.Exec(ctx, `UPDATE accounts SET quota_messages = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, ids[0], own.ID, raw, nil, time.Time{}); err != nil {
		t.Fatalf("Append within quota: %v", err)
	}
	check("over quota", ids[0], own.ID, store.ErrOverQuota)
	check("over quota, another account's mailbox", ids[0], other.ID, store.ErrOverQuota)
	var used, msgs int64
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT used_messages FROM accounts WHERE id = $1), (SELECT count(*) FROM messages)`,
		ids[0]).Scan(&used, &msgs); err != nil {
		t.Fatal(err)
	}
	if used != 1 || msgs != 1 {
		t.Errorf("after refusals: used %d, %d messages; want 1 and 1", used, msgs)
	}
}

// TestDeliverCombined: concurrent deliveries share transactions (group
// commit), and one delivery that cannot be stored (a mailbox that does not
// exist) fails alone: its batch is run again one delivery at a time, every
// other delivery is stored once, with distinct UIDs.
func TestDeliverCombined(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ids := testAccounts(t, s, 2)
	const n = 48
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, n)
	res := make([][]store.DeliveryResult, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			mailbox := "INBOX"
			if i%8 == 3 {
				mailbox = "Nope"
			}
			res[i], errs[i] = s.Deliver(t.Context(), store.Delivery{
				Raw:        []byte(fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i)),
				Recipients: []store.Recipient{{AccountID: ids[i%2], Mailbox: mailbox}},
			})
		}()
	}
	close(start)
	wg.Wait()
	uids := map[[2]int64]bool{}
	stored := 0
	for i := range n {
		if i%8 == 3 {
			if !errors.Is(errs[i], store.ErrNotFound) {
				t.Errorf("delivery %d to a missing mailbox: %v, want ErrNotFound", i, errs[i])
			}
			continue
		}
		if errs[i] != nil {
			t.Errorf("delivery %d: %v (failed with a bad delivery in its batch)", i, errs[i])
			continue
		}
		k := [2]int64{res[i][0].MailboxID, int64(res[i][0].UID)}
		if uids[k] {
			t.Errorf("delivery %d: UID %d given twice", i, k[1])
		}
		uids[k] = true
		stored++
	}
	total := 0
	for _, id := range ids {
		mb, err := s.Mailbox(t.Context(), id, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		total += int(mb.Messages)
	}
	if total != stored {
		t.Errorf("%d messages in the INBOXes, %d deliveries answered stored", total, stored)
	}
	b, d := s.comb.batches.Load(), s.comb.delivered.Load()
	t.Logf("%d deliveries in %d batches", d, b)
	if d <= b {
		t.Errorf("%d deliveries in %d batches: none combined", d, b)
	}
}

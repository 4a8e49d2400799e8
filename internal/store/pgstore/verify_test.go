package pgstore

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"gannet/internal/store"
)

// TestVerify: a sound store has no problems; a flipped byte in a chunk, a
// missing chunk, a wrong mailbox counter and a wrong quota usage are each
// reported, naming the message or mailbox.
func TestVerify(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	if err := s.AddDomain(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "a@example.com", "pw")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 4 {
		raw := fmt.Appendf(nil, "Subject: %d\r\n\r\nbody %d\r\n", i, i)
		if i < 2 { // several chunks, and incompressible
			b := make([]byte, chunkSize)
			rand.Read(b)
			raw = append(raw, hex.EncodeToString(b)...)
		}
		if _, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: a.ID}}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, store.Ingest(raw).ID)
	}
	verify := func() []string {
		var out []string
		st, err := s.Verify(ctx, func(p string) { out = append(out, p) })
		if err != nil {
			t.Fatal(err)
		}
		if st.Messages != 4 || st.Bodies != 4 || st.Problems != int64(len(out)) {
			t.Fatalf("stats %+v, %d problems reported", st, len(out))
		}
		return out
	}
	if p := verify(); len(p) != 0 {
		t.Fatalf("a sound store: %q", p)
	}
	for _, q := range []string{
		// A flipped byte inside the second chunk of the first body.
		`UPDATE body_chunks SET data = set_byte(data, length(data)/2, get_byte(data, length(data)/2) # 32)
			WHERE n = 1 AND body_id = (SELECT id FROM bodies WHERE blob = '` + ids[0] + `')`,
		`DELETE FROM body_chunks WHERE n = 1 AND body_id = (SELECT id FROM bodies WHERE blob = '` + ids[1] + `')`,
		`UPDATE mailboxes SET unseen = unseen + 1 WHERE name = 'INBOX'`,
		`UPDATE accounts SET used_bytes = used_bytes - 7`,
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	got := verify()
	want := []string{
		"a@example.com/INBOX uid 1: body " + ids[0] + ": ",
		"a@example.com/INBOX uid 2: body " + ids[1] + ": ",
		"mailbox a@example.com/INBOX: counter unseen is 5, the messages say 4",
		"account a@example.com: quota usage says",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("no problem starting %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	t.Logf("%s", strings.Join(got, "\n"))
}

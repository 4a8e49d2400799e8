package sqlstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"gannet/internal/store"
)

func TestBodyClass(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		n    int64
		want int
	}{
		{0, 0}, {1, 0}, {4096, 0}, {4097, 1}, {8192, 1}, {13000, 2},
		{inlineMax, maxBodyClass - minBodyClass}, {inlineMax + 1, -1}, {1 << 30, -1},
	} {
		if got := bodyClass(c.n); got != c.want {
			t.Errorf("bodyClass(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	var p bodyPool
	for _, n := range []int64{1, 5000, inlineMax, inlineMax + 1} {
		if b := p.get(n); int64(cap(*b)) < n {
			t.Errorf("get(%d): cap %d", n, cap(*b))
		}
	}
}

// deliverInline delivers raw to the account's INBOX and returns its blob ID.
func deliverInline(t *testing.T, s *Store, id int64, raw []byte) string {
	t.Helper()
	ctx := context.Background()
	res, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: id}}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	msgs, err := s.List(ctx, id, res[0].MailboxID, store.UIDSet{{Lo: res[0].UID, Hi: res[0].UID}}, store.ListOptions{})
	if err != nil || len(msgs) != 1 {
		t.Fatal(len(msgs), err)
	}
	return msgs[0].BlobID
}

// TestOpenInlineBuffers: decode buffers are recycled on Close, so a reader
// closed twice must not hand its buffer to two later messages, and a closed
// reader must not show whatever message its buffer holds next.
func TestOpenInlineBuffers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	if err := s.AddDomain(ctx, "gannet.test"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "u@gannet.test", "pw")
	if err != nil {
		t.Fatal(err)
	}
	var raws [][]byte
	var blobs []string
	for i := range 3 {
		// Same size class (8 KiB), distinct contents.
		raw := append(testMessage(fmt.Sprintf("m%d", i)), strings.Repeat(fmt.Sprintf("body %d\r\n", i), 700)...)
		raws = append(raws, raw)
		blobs = append(blobs, deliverInline(t, s, a.ID, raw))
	}
	readAll := func(rc io.ReadCloser) []byte {
		t.Helper()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for round := range 50 {
		rc, err := s.Open(ctx, blobs[0])
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(rc); !bytes.Equal(got, raws[0]) {
			t.Fatalf("round %d: message 0 read back wrong", round)
		}
		rc.Close()
		rc.Close() // a second Close must not put the buffer back twice
		if n, err := rc.Read(make([]byte, 10)); n != 0 || err == nil {
			t.Fatalf("read after Close: %d, %v", n, err)
		}
		r1, err := s.Open(ctx, blobs[1])
		if err != nil {
			t.Fatal(err)
		}
		r2, err := s.Open(ctx, blobs[2])
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(r1); !bytes.Equal(got, raws[1]) {
			t.Fatalf("round %d: message 1 overwritten (a buffer shared by two readers)", round)
		}
		if got := readAll(r2); !bytes.Equal(got, raws[2]) {
			t.Fatalf("round %d: message 2 read back wrong", round)
		}
		r1.Close()
		r2.Close()
	}
}

// TestOpenInlineMany: one reader per ID, in the order asked, nil for what
// Open must serve (a blob file, an empty message, an unknown or repeated ID).
func TestOpenInlineMany(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	if err := s.AddDomain(ctx, "gannet.test"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "u@gannet.test", "pw")
	if err != nil {
		t.Fatal(err)
	}
	small1 := append(testMessage("one"), strings.Repeat("first\r\n", 500)...)
	small2 := append(testMessage("two"), strings.Repeat("second\r\n", 50)...)
	large := append(testMessage("large"), strings.Repeat("a line kept in a blob file\r\n", 6000)...) // > inlineMax
	b1 := deliverInline(t, s, a.ID, small1)
	b2 := deliverInline(t, s, a.ID, small2)
	bl := deliverInline(t, s, a.ID, large)
	unknown := strings.Repeat("ab", 32)
	ids := []string{b2, unknown, bl, b1, b2}
	rcs, err := s.OpenInline(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{small2, nil, nil, small1, nil}
	if len(rcs) != len(want) {
		t.Fatalf("%d readers for %d IDs", len(rcs), len(ids))
	}
	for i, rc := range rcs {
		if (rc == nil) != (want[i] == nil) {
			t.Fatalf("reader %d (%s): got %v, want a reader: %v", i, ids[i], rc, want[i] != nil)
		}
		if rc == nil {
			continue
		}
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, want[i]) {
			t.Errorf("reader %d: %d octets, %v; want %d octets", i, len(got), err, len(want[i]))
		}
		rc.Close()
	}
	if _, err := s.OpenInline(ctx, make([]string, maxOpenInline+1)); err == nil {
		t.Error("OpenInline took more than maxOpenInline IDs")
	}
	if rcs, err := s.OpenInline(ctx, nil); err != nil || len(rcs) != 0 {
		t.Errorf("OpenInline(nil) = %v, %v", rcs, err)
	}
}

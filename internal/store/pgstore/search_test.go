package pgstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
	"gannet/internal/store/storetest"
)

func day(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }

// longLine is longer than testChunk: a BODY search for it spans chunks.
const longLine = "Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore"

// searchCorpus is a varied set of messages, stored by direct SQL, with what
// the reference evaluator needs.
func searchCorpus(t *testing.T, f *fixture) []testMsg {
	t.Helper()
	filler := strings.Repeat(longLine+"\n", 30)
	rows := []testMsg{
		{raw: storetest.Msg{From: "Alice Liddell <alice@wonderland.example>", To: "Bob Builder <bob@example.org>",
			Subject: "Quarterly report", Date: day(2024, 1, 10, 9), Body: "Revenue grew by ten percent.\n"}.Bytes(),
			date: day(2024, 1, 10, 12), flags: store.FlagSet{Bits: store.FlagBitSeen}},
		{raw: storetest.Msg{From: "Bob Builder <bob@example.org>", To: "alice@wonderland.example",
			Cc: "Carol <carol@example.net>", Subject: "Lunch tomorrow?", Date: day(2024, 2, 15, 9),
			Body: "Pizza or sushi? 100% sure_maybe.\n"}.Bytes(),
			date: day(2024, 2, 15, 12), flags: store.FlagSet{Bits: store.FlagBitFlagged, Keywords: []string{"Urgent"}}},
		{raw: storetest.Msg{From: "Carol <carol@example.net>", To: "alice@wonderland.example",
			Subject: "Re: Quarterly report", Date: time.Date(2024, 2, 28, 23, 30, 0, 0, time.FixedZone("", -5*3600)),
			Headers: []string{"X-Priority: 1"}, Body: "Thanks for the numbers.\n" + filler}.Bytes(),
			date: day(2024, 3, 1, 12)},
		{raw: storetest.Msg{From: "Dave <dave@remote.example>", To: "bob@example.org", Subject: "Encoded inside",
			Date: day(2024, 3, 5, 8), Encoding: "base64",
			Body: base64.StdEncoding.EncodeToString([]byte("Hello base64 world.\r\n")) + "\n"}.Bytes(),
			date: day(2024, 3, 5, 12), flags: store.FlagSet{Bits: store.FlagBitSeen | store.FlagBitDeleted, Keywords: []string{"$Junk", "later"}}},
		{raw: storetest.Msg{From: "Eve <eve@example.org>", To: "list@example.org",
			Subject: "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=", Date: day(2024, 3, 9, 23),
			ContentType: `multipart/alternative; boundary="b1"`,
			Body: "--b1\nContent-Type: text/plain; charset=us-ascii\n\nSpecial offer on kites.\n" +
				"--b1\nContent-Type: text/html; charset=us-ascii\n\n<p>Special <b>offer</b></p>\n--b1--\n"}.Bytes(),
			date: day(2024, 3, 10, 12), modseq: 9},
		{raw: []byte("Subject: no date header\r\n\r\nbare\r\n"), date: day(2024, 3, 11, 0)},
	}
	for i := range rows {
		rows[i].uid = uint32(2*i + 3) // gaps, so that UID ranges mean something
		if rows[i].modseq == 0 {
			rows[i].modseq = uint64(i + 1)
		}
		f.deliver(t, rows[i])
	}
	// The first message again, in another mailbox: never matches.
	f.deliver(t, testMsg{mailbox: f.addMailbox(t, "Archive"), uid: 1, raw: rows[0].raw, date: rows[0].date})
	return rows
}

// reference evaluates c over the corpus with store.MatchMessage alone: the
// results every backend must give (sqlstore's included).
func reference(t *testing.T, rows []testMsg, c store.Criteria) []uint32 {
	t.Helper()
	var out []uint32
	for _, r := range rows {
		b := store.Ingest(r.raw)
		m := store.SearchMessage{UID: r.uid, ModSeq: r.modseq, Flags: r.flags,
			InternalDate: time.Unix(r.date.Unix(), 0).UTC(), Size: int64(len(r.raw)),
			Subject: b.Subject, From: b.From, To: b.To, Cc: b.Cc, Bcc: b.Bcc,
			SentDate: b.SentDate, SentDay: b.SentDay, Header: b.Header, Parsed: b.Parsed}
		ok, err := store.MatchMessage(t.Context(), &m, c, func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(r.raw)), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			out = append(out, r.uid)
		}
	}
	return out
}

// TestSearchTranslation: for every criterion the WHERE clause translates,
// alone and combined, Search gives the reference evaluator's results, both
// when SQL answers alone and when the same criteria go through Go (wrapped in
// NOT NOT, which SQL leaves to Go).
func TestSearchTranslation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rows := searchCorpus(t, f)
	u := func(i int) uint32 { return rows[i].uid }
	hdr := func(field, v string) []store.HeaderTerm { return []store.HeaderTerm{{Field: field, Value: v}} }
	date := func(field store.DateField, d time.Time) *store.DateTerm {
		return &store.DateTerm{Field: field, Date: d}
	}
	many := store.UIDSet{}
	for i := uint32(0); i < 300; i++ { // more ranges than go into SQL
		many = append(many, store.UIDRange{Lo: 1000 + 2*i, Hi: 1000 + 2*i})
	}
	many = append(many, store.UIDRange{Lo: u(1), Hi: u(1)}, store.UIDRange{Lo: u(4), Hi: u(4)})
	cases := []struct {
		name string
		c    store.Criteria
		n    int // expected number of matches, as a check on the reference
	}{
		{"all", store.Criteria{}, 6},
		{"subject", store.Criteria{Header: hdr("Subject", "QUARTERLY")}, 2},
		{"subject decoded", store.Criteria{Header: hdr("subject", "grüße aus")}, 1},
		{"subject percent", store.Criteria{Header: hdr("Subject", "%")}, 0},
		{"body percent underscore", store.Criteria{Body: []string{"100% sure_maybe"}}, 1},
		{"from", store.Criteria{Header: hdr("FROM", "bob")}, 1},
		{"to", store.Criteria{Header: hdr("To", "bob@example.org")}, 2},
		{"cc", store.Criteria{Header: hdr("Cc", "carol")}, 1},
		{"bcc", store.Criteria{Header: hdr("Bcc", "x")}, 0},
		{"header with NUL", store.Criteria{Header: hdr("Subject", "a\x00b")}, 0},
		{"header invalid utf-8", store.Criteria{Header: hdr("Subject", "\xc3")}, 0},
		{"seen", store.Criteria{WithFlags: []string{store.FlagSeen}}, 2},
		{"seen any case", store.Criteria{WithFlags: []string{`\SEEN`}}, 2},
		{"unseen unflagged", store.Criteria{WithoutFlg: []string{store.FlagSeen, store.FlagFlagged}}, 3},
		{"keyword any case", store.Criteria{WithFlags: []string{"urgent"}}, 1},
		{"keyword prefix is not keyword", store.Criteria{WithFlags: []string{"urg"}}, 0},
		{"keyword $", store.Criteria{WithFlags: []string{"$junk"}}, 1},
		{"second keyword", store.Criteria{WithFlags: []string{"LATER"}}, 1},
		{"unkeyword", store.Criteria{WithoutFlg: []string{"later"}}, 5},
		{"keyword invalid utf-8", store.Criteria{WithFlags: []string{"\xff"}}, 0},
		{"unkeyword NUL", store.Criteria{WithoutFlg: []string{"a\x00"}}, 6},
		{"larger", store.Criteria{Larger: int64(len(rows[2].raw)) - 1}, 1},
		{"smaller", store.Criteria{Smaller: int64(len(rows[5].raw)) + 1}, 1},
		{"on", store.Criteria{On: date(store.DateInternal, day(2024, 2, 15, 23))}, 1},
		{"on other zone", store.Criteria{On: date(store.DateInternal, time.Date(2024, 2, 15, 1, 0, 0, 0, time.FixedZone("", 9*3600)))}, 1},
		{"since", store.Criteria{Since: date(store.DateInternal, day(2024, 3, 1, 0))}, 4},
		{"before", store.Criteria{Before: date(store.DateInternal, day(2024, 3, 1, 0))}, 2},
		{"sent on own zone", store.Criteria{On: date(store.DateSent, day(2024, 2, 28, 0))}, 1},
		{"sent on utc day", store.Criteria{On: date(store.DateSent, day(2024, 2, 29, 0))}, 0},
		{"sent since", store.Criteria{Since: date(store.DateSent, day(2024, 3, 9, 0))}, 1},
		{"sent before", store.Criteria{Before: date(store.DateSent, day(2024, 3, 9, 0))}, 4},
		{"uid range", store.Criteria{UIDs: store.UIDSet{{Lo: u(1), Hi: u(3)}}}, 3},
		{"uid to end", store.Criteria{UIDs: store.UIDSet{{Lo: u(4) - 1, Hi: 0}}}, 2},
		{"uid gaps", store.Criteria{UIDs: store.UIDSet{{Lo: 1, Hi: 2}, {Lo: u(5), Hi: u(5)}}}, 1},
		{"uid many ranges", store.Criteria{UIDs: many}, 2},
		{"empty uid set", store.Criteria{UIDs: store.UIDSet{}}, 0},
		{"modseq", store.Criteria{ModSeq: 7}, 1},
		{"body", store.Criteria{Body: []string{"REVENUE"}}, 1},
		{"body base64", store.Criteria{Body: []string{"base64 world"}}, 1},
		{"body across chunks", store.Criteria{Body: []string{strings.ToUpper(longLine)}}, 1},
		{"text header", store.Criteria{Text: []string{"köln"}}, 1},
		{"arbitrary header", store.Criteria{Header: hdr("x-priority", "1")}, 1},
		{"field present", store.Criteria{Header: hdr("Cc", "")}, 1},
		{"or", store.Criteria{Or: [][2]store.Criteria{{{Header: hdr("From", "bob")}, {WithFlags: []string{store.FlagDeleted}}}}}, 2},
		{"not", store.Criteria{Not: []store.Criteria{{WithFlags: []string{store.FlagSeen}}}}, 4},
		{"everything", store.Criteria{UIDs: store.UIDSet{{Lo: 1, Hi: 0}}, WithoutFlg: []string{store.FlagDeleted},
			Header: hdr("Subject", "report"), Text: []string{"numbers"}, Larger: 100,
			Since: date(store.DateInternal, day(2024, 1, 1, 0)), Before: date(store.DateSent, day(2025, 1, 1, 0))}, 1},
	}
	ctx := t.Context()
	for _, c := range cases {
		want := reference(t, rows, c.c)
		if len(want) != c.n {
			t.Errorf("%s: reference gives %v; the case expects %d matches", c.name, want, c.n)
		}
		for _, variant := range []struct {
			name string
			c    store.Criteria
		}{{"", c.c}, {" (through Go)", store.Criteria{Not: []store.Criteria{{Not: []store.Criteria{c.c}}}}}} {
			got, err := f.s.Search(ctx, f.account, f.mailbox, variant.c)
			if err != nil {
				t.Errorf("%s%s: %v", c.name, variant.name, err)
				continue
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s%s: got %v, want %v", c.name, variant.name, got, want)
			}
		}
	}
	if _, err := f.s.Search(ctx, f.account, f.mailbox+100, store.Criteria{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown mailbox: %v; want ErrNotFound", err)
	}
	if _, err := f.s.Search(ctx, f.account+1, f.mailbox, store.Criteria{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another account's mailbox: %v; want ErrNotFound", err)
	}
}

// TestSearchCost: a body is decoded once per message however many BODY and
// TEXT keys name it, candidates are read page by page (more than one page
// here), and a cancelled search stops with the context's error.
func TestSearchCost(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	const n = searchPage + 150
	for i := 1; i <= n; i++ {
		raw := storetest.Msg{Subject: fmt.Sprintf("message %d", i), Body: fmt.Sprintf("body %d words\n", i)}.Bytes()
		f.deliver(t, testMsg{uid: uint32(i), raw: raw})
	}
	var p store.SearchProbe
	got, err := f.s.Search(store.WithSearchProbe(ctx, &p), f.account, f.mailbox,
		store.Criteria{Body: []string{"words", "body"}, Text: []string{"zzz-nowhere"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("got %d matches, want none", len(got))
	}
	if p.Rows.Load() != n || p.Decoded.Load() != n {
		t.Errorf("rows %d, decoded %d; want %d each (one decoding per message)", p.Rows.Load(), p.Decoded.Load(), n)
	}
	got, err = f.s.Search(ctx, f.account, f.mailbox, store.Criteria{Body: []string{"words"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n || got[0] != 1 || got[n-1] != n || !slices.IsSorted(got) {
		t.Errorf("got %d matches (%v...); want UIDs 1..%d in order", len(got), got[:min(3, len(got))], n)
	}

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p = store.SearchProbe{Row: func(i int64) {
		if i == 10 {
			cancel()
		}
	}}
	_, err = f.s.Search(store.WithSearchProbe(cctx, &p), f.account, f.mailbox, store.Criteria{Body: []string{"words"}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled search: %v; want context.Canceled", err)
	}
	if r := p.Rows.Load(); r > 11 {
		t.Errorf("cancelled search evaluated %d messages after the cancel at 10", r)
	}
}

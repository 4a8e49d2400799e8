package storetest

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
)

func searchTests() []subtest {
	return []subtest{
		{"Criteria", testSearchCriteria},
		{"Decoded", testSearchDecoded},
	}
}

func at(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }

// searchCorpus appends five varied messages and returns their UIDs and sizes.
func searchCorpus(t *testing.T, s store.Store, acct, mb int64) ([]uint32, []int64) {
	t.Helper()
	var filler strings.Builder
	filler.WriteString("Thanks for the numbers.\n\n")
	for i := range 40 {
		fmt.Fprintf(&filler, "Lorem ipsum dolor sit amet, consectetur adipiscing elit %02d.\n", i)
	}
	msgs := []struct {
		m     Msg
		date  time.Time
		flags []string
	}{
		{Msg{From: "Alice Liddell <alice@wonderland.example>", To: "Bob Builder <bob@example.org>",
			Subject: "Quarterly report", Date: at(2024, 1, 10, 9),
			Body: "Revenue grew by ten percent this quarter.\n"},
			at(2024, 1, 10, 12), []string{store.FlagSeen}},
		{Msg{From: "Bob Builder <bob@example.org>", To: "Alice Liddell <alice@wonderland.example>",
			Cc: "Carol <carol@example.net>", Subject: "Lunch tomorrow?", Date: at(2024, 2, 15, 9),
			Body: "Pizza or sushi? Let me know.\n"},
			at(2024, 2, 15, 12), []string{store.FlagFlagged, "urgent"}},
		{Msg{From: "Carol <carol@example.net>", To: "alice@wonderland.example",
			Subject: "Re: Quarterly report", Date: at(2024, 2, 28, 10), Headers: []string{"X-Priority: 1"},
			Body: filler.String()},
			at(2024, 3, 1, 12), nil},
		{Msg{From: "Dave <dave@remote.example>", To: "bob@example.org",
			Subject: "Encoded inside", Date: at(2024, 3, 5, 8), Encoding: "base64",
			Body: base64.StdEncoding.EncodeToString([]byte("Hello base64 world, nothing in plain sight.\r\n")) + "\n"},
			at(2024, 3, 5, 12), []string{store.FlagSeen, store.FlagDeleted}},
		{Msg{From: "Eve <eve@example.org>", To: "list@example.org",
			Subject: "Newsletter", Date: at(2024, 3, 9, 23),
			ContentType: `multipart/alternative; boundary="b1"`,
			Body: "--b1\nContent-Type: text/plain; charset=us-ascii\n\nSpecial offer on kites.\n" +
				"--b1\nContent-Type: text/html; charset=us-ascii\n\n<p>Special <b>offer</b> on kites.</p>\n--b1--\n"},
			at(2024, 3, 10, 12), nil},
	}
	var uids []uint32
	var sizes []int64
	for _, x := range msgs {
		raw := x.m.Bytes()
		uids = append(uids, appendMsg(t, s, acct, mb, raw, x.flags, x.date))
		sizes = append(sizes, int64(len(raw)))
	}
	return uids, sizes
}

func testSearchCriteria(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	appendN(t, s, a.ID, mbox(t, s, a.ID, "Archive").ID, "Quarterly elsewhere", 2) // other mailboxes never match
	u, size := searchCorpus(t, s, a.ID, inbox.ID)
	m := func(i ...int) []uint32 {
		var out []uint32
		for _, x := range i {
			out = append(out, u[x-1])
		}
		return out
	}
	// m5 gets a fresh modseq for the MODSEQ criterion.
	r := storeFlags(t, s, a.ID, inbox.ID, set(u[4]), store.FlagsAdd, []string{"read-later"})
	ms5 := r.Updated[0].ModSeq

	hdr := func(f, v string) []store.HeaderTerm { return []store.HeaderTerm{{Field: f, Value: v}} }
	on := func(f store.DateField, d time.Time) *store.DateTerm { return &store.DateTerm{Field: f, Date: d} }
	// Size thresholds computed from the real sizes; m3 is the only large one.
	larger := size[2] - 1
	smallest := min(size[0], size[1], size[3], size[4])
	cases := []struct {
		name string
		c    store.Criteria
		want []uint32
	}{
		{"all", store.Criteria{}, m(1, 2, 3, 4, 5)},
		{"subject", store.Criteria{Header: hdr("Subject", "quarterly")}, m(1, 3)},
		{"subject upper case", store.Criteria{Header: hdr("Subject", "QUARTERLY REPORT")}, m(1, 3)},
		{"field name lower case", store.Criteria{Header: hdr("subject", "lunch")}, m(2)},
		{"from", store.Criteria{Header: hdr("From", "bob")}, m(2)},
		{"from display name", store.Criteria{Header: hdr("From", "liddell")}, m(1)},
		{"to", store.Criteria{Header: hdr("To", "bob@example.org")}, m(1, 4)},
		{"cc", store.Criteria{Header: hdr("Cc", "carol")}, m(2)},
		{"arbitrary field", store.Criteria{Header: hdr("X-Priority", "1")}, m(3)},
		{"arbitrary field any case", store.Criteria{Header: hdr("x-priority", "1")}, m(3)},
		{"field present", store.Criteria{Header: hdr("X-Priority", "")}, m(3)},
		{"cc present", store.Criteria{Header: hdr("Cc", "")}, m(2)},
		{"absent field", store.Criteria{Header: hdr("X-Nope", "")}, nil},
		{"two header terms", store.Criteria{Header: []store.HeaderTerm{{Field: "Subject", Value: "report"}, {Field: "From", Value: "carol"}}}, m(3)},
		{"seen", store.Criteria{WithFlags: []string{store.FlagSeen}}, m(1, 4)},
		{"keyword", store.Criteria{WithFlags: []string{"urgent"}}, m(2)},
		{"flag and keyword", store.Criteria{WithFlags: []string{store.FlagFlagged, "urgent"}}, m(2)},
		{"deleted", store.Criteria{WithFlags: []string{store.FlagDeleted}}, m(4)},
		{"answered", store.Criteria{WithFlags: []string{store.FlagAnswered}}, nil},
		{"unseen", store.Criteria{WithoutFlg: []string{store.FlagSeen}}, m(2, 3, 5)},
		{"unseen unflagged", store.Criteria{WithoutFlg: []string{store.FlagSeen, store.FlagFlagged}}, m(3, 5)},
		{"seen undeleted", store.Criteria{WithFlags: []string{store.FlagSeen}, WithoutFlg: []string{store.FlagDeleted}}, m(1)},
		{"larger", store.Criteria{Larger: larger}, m(3)},
		{"larger than itself", store.Criteria{Larger: size[2]}, nil},
		{"smaller", store.Criteria{Smaller: smallest + 1}, sizeMatch(u, size, func(n int64) bool { return n < smallest+1 })},
		{"smaller than smallest", store.Criteria{Smaller: smallest}, nil},
		{"larger and smaller", store.Criteria{Larger: smallest, Smaller: size[2]}, sizeMatch(u, size, func(n int64) bool { return n > smallest && n < size[2] })},
		{"on", store.Criteria{On: on(store.DateInternal, day(2024, 2, 15))}, m(2)},
		{"on other hour", store.Criteria{On: on(store.DateInternal, time.Date(2024, 2, 15, 23, 59, 0, 0, time.UTC))}, m(2)},
		{"on no message", store.Criteria{On: on(store.DateInternal, day(2024, 2, 28))}, nil},
		{"since", store.Criteria{Since: on(store.DateInternal, day(2024, 3, 1))}, m(3, 4, 5)},
		{"before", store.Criteria{Before: on(store.DateInternal, day(2024, 3, 1))}, m(1, 2)},
		{"since and before", store.Criteria{Since: on(store.DateInternal, day(2024, 2, 15)), Before: on(store.DateInternal, day(2024, 3, 5))}, m(2, 3)},
		// RFC 5032 WITHIN, to the second: m4 arrived at 2024-03-05 12:00:00.
		{"younger", store.Criteria{YoungerThan: at(2024, 3, 5, 12)}, m(4, 5)},
		{"younger by a second", store.Criteria{YoungerThan: at(2024, 3, 5, 12).Add(time.Second)}, m(5)},
		{"older", store.Criteria{OlderThan: at(2024, 3, 5, 12)}, m(1, 2, 3)},
		{"older by a second", store.Criteria{OlderThan: at(2024, 3, 5, 12).Add(time.Second)}, m(1, 2, 3, 4)},
		{"younger and older", store.Criteria{YoungerThan: at(2024, 2, 15, 12), OlderThan: at(2024, 3, 5, 12)}, m(2, 3)},
		{"not older", store.Criteria{Not: []store.Criteria{{OlderThan: at(2024, 3, 1, 12)}}}, m(3, 4, 5)},
		{"sent on", store.Criteria{On: on(store.DateSent, day(2024, 2, 28))}, m(3)},
		{"sent on internal-only day", store.Criteria{On: on(store.DateSent, day(2024, 3, 10))}, nil},
		{"sent since", store.Criteria{Since: on(store.DateSent, day(2024, 3, 9))}, m(5)},
		{"sent before", store.Criteria{Before: on(store.DateSent, day(2024, 1, 11))}, m(1)},
		{"sent before (exclusive)", store.Criteria{Before: on(store.DateSent, day(2024, 1, 10))}, nil},
		{"uid set", store.Criteria{UIDs: store.UIDSet{{Lo: u[1], Hi: u[3]}}}, m(2, 3, 4)},
		{"uid set to end", store.Criteria{UIDs: store.UIDSet{{Lo: u[3], Hi: 0}}}, m(4, 5)},
		{"uid set and flag", store.Criteria{UIDs: store.UIDSet{{Lo: u[1], Hi: u[3]}}, WithFlags: []string{store.FlagSeen}}, m(4)},
		{"empty uid set", store.Criteria{UIDs: store.UIDSet{}}, nil},
		{"modseq", store.Criteria{ModSeq: ms5}, m(5)},
		{"modseq 1", store.Criteria{ModSeq: 1}, m(1, 2, 3, 4, 5)},
		{"body", store.Criteria{Body: []string{"revenue"}}, m(1)},
		{"body upper case", store.Criteria{Body: []string{"REVENUE GREW"}}, m(1)},
		{"body is not header", store.Criteria{Body: []string{"quarterly"}}, nil},
		{"body in multipart", store.Criteria{Body: []string{"kites"}}, m(5)},
		{"body base64 decoded", store.Criteria{Body: []string{"base64 world"}}, m(4)},
		{"body two terms", store.Criteria{Body: []string{"pizza", "sushi"}}, m(2)},
		{"body two terms no match", store.Criteria{Body: []string{"pizza", "kites"}}, nil},
		{"text in subject", store.Criteria{Text: []string{"quarterly"}}, m(1, 3)},
		{"text in body", store.Criteria{Text: []string{"Pizza"}}, m(2)},
		{"text in from and cc", store.Criteria{Text: []string{"carol"}}, m(2, 3)},
		{"text nowhere", store.Criteria{Text: []string{"xylophone"}}, nil},
		{"not", store.Criteria{Not: []store.Criteria{{WithFlags: []string{store.FlagSeen}}}}, m(2, 3, 5)},
		{"not subject", store.Criteria{Not: []store.Criteria{{Header: hdr("Subject", "quarterly")}}}, m(2, 4, 5)},
		{"two nots", store.Criteria{Not: []store.Criteria{{WithFlags: []string{store.FlagSeen}}, {WithFlags: []string{store.FlagFlagged}}}}, m(3, 5)},
		{"or", store.Criteria{Or: [][2]store.Criteria{{{Header: hdr("From", "bob")}, {WithFlags: []string{store.FlagDeleted}}}}}, m(2, 4)},
		{"subject and not seen", store.Criteria{Header: hdr("Subject", "quarterly"), Not: []store.Criteria{{WithFlags: []string{store.FlagSeen}}}}, m(3)},
		{"not or", store.Criteria{Not: []store.Criteria{{Or: [][2]store.Criteria{{{WithFlags: []string{store.FlagSeen}}, {WithFlags: []string{store.FlagFlagged}}}}}}}, m(3, 5)},
		{"nested or", store.Criteria{Or: [][2]store.Criteria{{
			{Or: [][2]store.Criteria{{{UIDs: set(u[0])}, {UIDs: set(u[1])}}}},
			{Body: []string{"kites"}},
		}}}, m(1, 2, 5)},
		{"two ors", store.Criteria{Or: [][2]store.Criteria{
			{{WithFlags: []string{store.FlagSeen}}, {WithFlags: []string{"urgent"}}},
			{{Header: hdr("Subject", "report")}, {Header: hdr("Subject", "lunch")}},
		}}, m(1, 2)},
		{"or with not", store.Criteria{Or: [][2]store.Criteria{{
			{Not: []store.Criteria{{Header: hdr("To", "alice")}}},
			{Since: on(store.DateInternal, day(2024, 3, 10))},
		}}}, m(1, 4, 5)},
		{"everything", store.Criteria{
			UIDs: store.UIDSet{{Lo: u[0], Hi: 0}}, WithoutFlg: []string{store.FlagDeleted},
			Header: hdr("Subject", "report"), Text: []string{"numbers"}, Larger: 100,
			Since: on(store.DateInternal, day(2024, 1, 1)), Before: on(store.DateInternal, day(2025, 1, 1)),
		}, m(3)},
	}
	for _, c := range cases {
		got, err := s.Search(ctx, a.ID, inbox.ID, c.c)
		if err != nil {
			t.Errorf("Search %s: %v", c.name, err)
			continue
		}
		wantUIDs(t, "Search "+c.name, got, c.want)
	}
	// Expunged messages no longer match.
	_, err := s.Expunge(ctx, a.ID, inbox.ID, nil)
	noErr(t, "Expunge", err)
	got, err := s.Search(ctx, a.ID, inbox.ID, store.Criteria{WithFlags: []string{store.FlagSeen}})
	noErr(t, "Search after expunge", err)
	wantUIDs(t, "Search seen after expunge", got, m(1))
	_, err = s.Search(ctx, a.ID, inbox.ID+1000, store.Criteria{})
	wantErr(t, "Search unknown mailbox", err, store.ErrNotFound)
}

func sizeMatch(uids []uint32, sizes []int64, ok func(int64) bool) []uint32 {
	var out []uint32
	for i, n := range sizes {
		if ok(n) {
			out = append(out, uids[i])
		}
	}
	return out
}

// testSearchDecoded: header and body search work on decoded text (RFC 2047
// words, quoted-printable with soft line breaks, base64), not on raw bytes.
func testSearchDecoded(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	d1 := appendMsg(t, s, a.ID, inbox.ID, Msg{Subject: "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=", Body: "Plain body.\n"}.Bytes(), nil, time.Time{})
	d2 := appendMsg(t, s, a.ID, inbox.ID, Msg{Subject: "QP", Encoding: "quoted-printable",
		Body: "A soft line =\nbreak and a caf=C3=A9 au lait.\n"}.Bytes(), nil, time.Time{})
	d3 := appendMsg(t, s, a.ID, inbox.ID, Msg{Subject: "Attachment", ContentType: `multipart/mixed; boundary="xx"`,
		Body: "--xx\nContent-Type: text/plain; charset=utf-8\n\nSee the attached file.\n" +
			"--xx\nContent-Type: text/plain; charset=utf-8; name=\"notes.txt\"\nContent-Disposition: attachment; filename=\"notes.txt\"\nContent-Transfer-Encoding: base64\n\n" +
			base64.StdEncoding.EncodeToString([]byte("secret rendezvous at noon\r\n")) + "\n--xx--\n"}.Bytes(), nil, time.Time{})
	cases := []struct {
		name string
		c    store.Criteria
		want []uint32
	}{
		{"encoded subject", store.Criteria{Header: []store.HeaderTerm{{Field: "Subject", Value: "grüße"}}}, []uint32{d1}},
		{"encoded subject word", store.Criteria{Header: []store.HeaderTerm{{Field: "Subject", Value: "aus Köln"}}}, []uint32{d1}},
		{"text in encoded subject", store.Criteria{Text: []string{"Köln"}}, []uint32{d1}},
		{"qp soft line break", store.Criteria{Body: []string{"soft line break"}}, []uint32{d2}},
		{"qp utf-8", store.Criteria{Body: []string{"café au lait"}}, []uint32{d2}},
		{"qp raw bytes do not match", store.Criteria{Body: []string{"caf=C3"}}, nil},
		{"body not header", store.Criteria{Body: []string{"grüße"}}, nil},
		{"base64 text attachment", store.Criteria{Body: []string{"rendezvous"}}, []uint32{d3}},
	}
	for _, c := range cases {
		got, err := s.Search(ctx, a.ID, inbox.ID, c.c)
		if err != nil {
			t.Errorf("Search %s: %v", c.name, err)
			continue
		}
		wantUIDs(t, "Search "+c.name, got, c.want)
	}
}

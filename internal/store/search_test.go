package store

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// TestMatchMessage evaluates keys of every kind against one ingested
// message, and checks that the body is opened once for many BODY/TEXT keys.
func TestMatchMessage(t *testing.T) {
	raw := []byte("From: ann@example.com\r\nSubject: Quarterly report\r\nX-Tag: =?utf-8?q?gr=C3=BCn?=\r\n" +
		"Date: Mon, 7 Dec 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\nThe numbers are in =C3=BCberall.\r\n")
	b := Ingest(raw)
	fs, _ := ParseFlags([]string{`\Seen`, "Work"})
	m := &SearchMessage{UID: 7, ModSeq: 3, Flags: fs, Size: b.Size, Subject: b.Subject, From: b.From,
		SentDate: b.SentDate, SentDay: b.SentDay, Header: b.Header, Parsed: b.Parsed}
	opens := 0
	open := func() (io.ReadCloser, error) { opens++; return io.NopCloser(bytes.NewReader(raw)), nil }
	cases := []struct {
		c    Criteria
		want bool
	}{
		{Criteria{WithFlags: []string{`\seen`, "work"}}, true},
		{Criteria{WithoutFlg: []string{"work"}}, false},
		{Criteria{Header: []HeaderTerm{{"subject", "REPORT"}}}, true},
		{Criteria{Header: []HeaderTerm{{"x-tag", "grün"}}}, true},
		{Criteria{Header: []HeaderTerm{{"x-missing", ""}}}, false},
		{Criteria{Body: []string{"ÜBERALL", "numbers"}, Text: []string{"quarterly", "are in"}}, true},
		{Criteria{Body: []string{"quarterly"}}, false},
		{Criteria{Not: []Criteria{{UIDs: UIDSet{{7, 7}}}}}, false},
		{Criteria{Or: [][2]Criteria{{{Larger: 1 << 20}, {ModSeq: 3}}}}, true},
	}
	for i, tc := range cases {
		opens = 0
		got, err := MatchMessage(context.Background(), m, tc.c, open)
		if err != nil || got != tc.want {
			t.Errorf("case %d: %v, %v; want %v", i, got, err, tc.want)
		}
		if opens > 1 {
			t.Errorf("case %d: body opened %d times", i, opens)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := MatchMessage(ctx, m, Criteria{Body: []string{"x"}}, open); err == nil {
		t.Error("cancelled search went on")
	}
}

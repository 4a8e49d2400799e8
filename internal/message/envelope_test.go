package message

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestParseAddressList(t *testing.T) {
	t.Parallel()
	a := func(name, mb, host string) Address { return Address{Name: name, Mailbox: mb, Host: host} }
	for _, tc := range []struct {
		in   string
		want []Address
	}{
		{"", nil},
		{"  ", nil},
		{`"Doe, John" <john@example.com>`, []Address{a("Doe, John", "john", "example.com")}},
		{`john@example.com (John Doe)`, []Address{a("John Doe", "john", "example.com")}},
		{`<john@example.com> (John Doe)`, []Address{a("John Doe", "john", "example.com")}},
		// RFC 5322 A.1.3
		{`A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;`, []Address{
			{Mailbox: "A Group"}, a("Ed Jones", "c", "a.test"), a("", "joe", "where.test"), a("John", "jdoe", "one.test"), {}}},
		{`Undisclosed recipients:;`, []Address{{Mailbox: "Undisclosed recipients"}, {}}},
		{`Group: a@b`, []Address{{Mailbox: "Group"}, a("", "a", "b"), {}}}, // never closed
		{`: a@b;`, []Address{a("", "a", "b")}},                             // nameless group is no group
		// RFC 5322 4.4 obs-route, kept as the ENVELOPE's adl (RFC 3501 7.4.2).
		{`<@route.example,@r2:user@example.com>`, []Address{{Mailbox: "user", Host: "example.com", Route: "@route.example,@r2"}}},
		{`Joe <@a.test, @b.test : joe@c.test>`, []Address{{Name: "Joe", Mailbox: "joe", Host: "c.test", Route: "@a.test,@b.test"}}},
		{`<junk here:user@example.com>`, []Address{a("", "user", "example.com")}}, // not a route: dropped
		{`John Doe john@example.com`, []Address{a("John Doe", "john", "example.com")}},
		{`john`, []Address{a("", "john", missingDomain)}},
		{`<>`, nil},
		{`Name <>`, []Address{a("Name", missingMailbox, missingDomain)}},
		{`=?utf-8?Q?J=C3=B6rg?= <j@x.de>`, []Address{a("Jörg", "j", "x.de")}},
		{`"=?utf-8?Q?J=C3=B6rg?=" <j@x.de>`, []Address{a("Jörg", "j", "x.de")}},
		{`=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>`, []Address{a("Keld Jørn Simonsen", "keld", "dkuug.dk")}},
		{`Foo <foo@bar`, []Address{a("Foo", "foo", "bar")}},
		{`Foo <foo@bar, b@c`, []Address{a("Foo", "foo", "bar"), a("", "b", "c")}},
		{`a@b, , c@d,`, []Address{a("", "a", "b"), a("", "c", "d")}},
		{`"quoted \"local\""@example.com`, []Address{a("", `quoted "local"`, "example.com")}},
		{`user@[127.0.0.1]`, []Address{a("", "user", "[127.0.0.1]")}},
		{`Pete(A nice \) chap) <pete(his account)@silly.test(his host)>`, []Address{a("Pete", "pete", "silly.test")}},
		{"Mary Smith\r\n <mary@x.test>", []Address{a("Mary Smith", "mary", "x.test")}},
		{`"Ünïcode" <ü@bücher.example>`, []Address{a("Ünïcode", "ü", "bücher.example")}},
		{"caf\xe9 <c@x>", []Address{a("café", "c", "x")}},
		{`@@@,,,<<<>>>;;;:::`, nil},
	} {
		got := parseAddressList(convert8bit([]byte(tc.in)))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseAddressList(%q) =\n%+v\nwant\n%+v", tc.in, got, tc.want)
		}
	}
}

func TestEnvelopeDefaults(t *testing.T) {
	t.Parallel()
	p := Parse([]byte("From: a@b\nSender:\nReply-To: r@b\nSubject:  =?utf-8?q?caf=C3=A9?=  \n  folded\nBcc: x@y\n\n"))
	e := p.Envelope
	from := []Address{{Mailbox: "a", Host: "b"}}
	if !reflect.DeepEqual(e.Sender, from) || !reflect.DeepEqual(e.ReplyTo, []Address{{Mailbox: "r", Host: "b"}}) ||
		!reflect.DeepEqual(e.Bcc, []Address{{Mailbox: "x", Host: "y"}}) {
		t.Errorf("envelope %+v", e)
	}
	if e.Subject != "=?utf-8?q?caf=C3=A9?=    folded" || p.Subject != "café    folded" {
		t.Errorf("subject raw %q decoded %q", e.Subject, p.Subject)
	}
	// No From: nothing to default to.
	if e := Parse([]byte("Subject: x\n\n")).Envelope; e.Sender != nil || e.ReplyTo != nil {
		t.Errorf("defaults without From: %+v", e)
	}
	// First occurrence wins; 8-bit header read as windows-1252.
	p = Parse([]byte("Subject: first\nSubject: second\nX-Note: caf\xe9\nFrom: Ren\xe9 <r@x>\n\n"))
	if p.Envelope.Subject != "first" || p.Envelope.From[0].Name != "René" {
		t.Errorf("envelope %+v", p.Envelope)
	}
}

func TestParseDate(t *testing.T) {
	t.Parallel()
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	for _, tc := range []struct {
		in     string
		want   time.Time
		offset int
	}{
		{"Tue, 1 Jul 2003 10:52:37 +0200", utc(2003, 7, 1, 8, 52, 37), 7200},
		{"Tue, 01 Jul 2003 10:52:37 +0200 (CEST)", utc(2003, 7, 1, 8, 52, 37), 7200},
		{"Tue, 1 Jul 2003 10:52:37 +0200 CEST", utc(2003, 7, 1, 8, 52, 37), 7200},
		{"1 Jul 03 10:52 EST", utc(2003, 7, 1, 15, 52, 0), -5 * 3600},
		{"Tue, 1 Jul 2003 10:52:37 GMT+0200", utc(2003, 7, 1, 8, 52, 37), 7200},
		{"Tue Jul  1 10:52:37 2003", utc(2003, 7, 1, 10, 52, 37), 0},
		{"2003-07-01T10:52:37Z", utc(2003, 7, 1, 10, 52, 37), 0},
		{"2003-07-01 10:52:37", utc(2003, 7, 1, 10, 52, 37), 0},
		{"Tue, 1 Jul 2003 10:52:37", utc(2003, 7, 1, 10, 52, 37), 0},
		{"Tue,1 Jul 2003 10:52:37 -0000", utc(2003, 7, 1, 10, 52, 37), 0},
		{"Tuesday, 01-Jul-03 10:52:37 GMT", utc(2003, 7, 1, 10, 52, 37), 0},
		{"garbage", time.Time{}, 0},
		{"", time.Time{}, 0},
		{"Tue, 1 Jul 2003 10:52:37 +9900", time.Time{}, 0},
	} {
		got := parseDate(tc.in)
		if _, off := got.Zone(); !got.Equal(tc.want) || (!got.IsZero() && off != tc.offset) {
			t.Errorf("parseDate(%q) = %v, want %v (offset %d)", tc.in, got, tc.want, tc.offset)
		}
	}
}

// TestParseDateFastAgrees: wherever the hand parser answers, net/mail's path
// gives the same instant and zone offset, over every month, days 0 to 32 and
// edge times, zones and years; and it declines what it does not handle.
func TestParseDateFastAgrees(t *testing.T) {
	t.Parallel()
	months := []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Foo", "jan"}
	n := 0
	for _, year := range []string{"2024", "2023", "1900", "2000", "0999", "9999"} {
		for _, mon := range months {
			for day := 0; day <= 32; day++ {
				for _, rest := range []string{"00:00:00 +0000", "23:59:59 -0000", "10:52:37 +0200",
					"24:00:00 +0000", "12:60:00 +0000", "12:00:60 +0000", "12:00:00 +1400", "12:00:00 -1259",
					"12:00:00 +1500", "12:00:00 +0099", "1:00:00 +0000", "12:00:00 0000"} {
					for _, prefix := range []string{"", "Sat, ", "Xyz, ", "Sat,  ", " "} {
						for _, d := range []string{fmt.Sprint(day), fmt.Sprintf("%02d", day)} {
							in := prefix + d + " " + mon + " " + year + " " + rest
							fast, ok := parseDateFast(in)
							if !ok {
								continue
							}
							n++
							slow := parseDateSlow(in)
							_, fo := fast.Zone()
							_, so := slow.Zone()
							if !fast.Equal(slow) || fo != so {
								t.Fatalf("%q: fast %v, net/mail %v", in, fast, slow)
							}
						}
					}
				}
			}
		}
	}
	if n < 10000 {
		t.Fatalf("fast path answered only %d inputs", n)
	}
	for _, in := range []string{"Tue, 1 Jul 2003 10:52:37 +0200 CEST", "Tue,1 Jul 2003 10:52:37 -0000",
		"1 Jul 03 10:52:37 +0000", "31 Feb 2024 10:00:00 +0000", "1  Jul 2003 10:52:37 +0000", "Xyz, 1 Jul 2003 10:52:37 +0000",
		"Tue,   1 Jul 2003 10:52:37 +0000", "Tue,  1  Jul 2003 10:52:37 +0000"} {
		if _, ok := parseDateFast(in); ok {
			t.Errorf("parseDateFast(%q) answered; want it left to net/mail", in)
		}
	}
}

func FuzzParseDateFast(f *testing.F) {
	f.Add("Fri, 27 Nov 2026 00:55:39 +0000")
	f.Add("1 Jul 2003 10:52:37 -0700")
	f.Fuzz(func(t *testing.T, in string) {
		fast, ok := parseDateFast(in)
		if !ok {
			return
		}
		slow := parseDateSlow(in)
		_, fo := fast.Zone()
		_, so := slow.Zone()
		if !fast.Equal(slow) || fo != so {
			t.Fatalf("%q: fast %v, net/mail %v", in, fast, slow)
		}
	})
}

// TestParseDatePostfix: the padded day Postfix writes takes the fast path.
func TestParseDatePostfix(t *testing.T) {
	t.Parallel()
	in := "Mon,  7 Dec 2026 14:43:12 +0000"
	got, ok := parseDateFast(in)
	want := time.Date(2026, 12, 7, 14, 43, 12, 0, time.UTC)
	if !ok || !got.Equal(want) {
		t.Fatalf("parseDateFast(%q) = %v, %v; want %v", in, got, ok, want)
	}
	if got := parseDate(in + " (UTC)"); !got.Equal(want) {
		t.Fatalf("parseDate with comment = %v", got)
	}
}

// BenchmarkParseDatePostfix: the Date: smtp-source and Postfix write, through
// parseDate (the fast path) and through net/mail's path it used to take.
func BenchmarkParseDatePostfix(b *testing.B) {
	const in = "Mon,  7 Dec 2026 14:43:12 +0000 (UTC)"
	b.Run("parseDate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			parseDate(in)
		}
	})
	b.Run("net/mail", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			parseDateSlow("Mon,  7 Dec 2026 14:43:12 +0000")
		}
	})
}

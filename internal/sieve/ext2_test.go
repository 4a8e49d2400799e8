package sieve

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// RFC 5260: date, currentdate, index.
func TestRFC5260Examples(t *testing.T) {
	t.Parallel()
	const msg = `
Received: from c by d; Mon, 2 Jul 2007 08:00:00 +0000
Received: from a by b; Sat, 30 Jun 2007 23:30:00 +0000
From: boss@example.com
Date: Mon, 2 Jul 2007 10:15:00 -0700

b
`
	runGolden(t, []golden{
		{name: "7 office hours", script: `require ["date", "relational", "fileinto"];
if allof(header :is "from" "boss@example.com",
         date :value "ge" :originalzone "date" "hour" "09",
         date :value "lt" :originalzone "date" "hour" "17")
{
    fileinto "urgent";
}`, msg: msg, want: []string{"fileinto urgent"}},
		{name: "7 zone shifts the hour", script: `require ["date", "relational", "fileinto"];
if date :value "ge" :zone "+0000" "date" "hour" "17" { fileinto "late"; }`,
			msg: msg, want: []string{"fileinto late"}},
		{name: "7 weekend (last Received first)", script: `require ["date", "relational", "fileinto"];
if anyof(date :is "received" "weekday" "0",
         date :is "received" "weekday" "6")
{
    fileinto "weekend";
}`, msg: msg, want: []string{"fileinto weekend"}},
		{name: "6 :index :last", script: `require ["date", "index", "fileinto"];
if date :index 1 :last "received" "weekday" "6" { fileinto "oldest-on-saturday"; }
if date :index 1 "received" "weekday" "6" { fileinto "wrong"; }
if header :index 2 :contains "received" "from a" { fileinto "second"; }`,
			msg: msg, want: []string{"fileinto oldest-on-saturday", "fileinto second"}},
		{name: "7 currentdate vacation", script: `require ["date", "relational", "vacation"];
if allof(currentdate :value "ge" "date" "2007-06-30",
         currentdate :value "le" "date" "2007-07-07")
{
    vacation :days 7  "I'm away during the first week in July.";
}`, msg: "From: x@y.example\nTo: me@example.com\nSubject: s\n\nb\n", envl: Envelope{From: "x@y.example"},
			want: []string{`vacation to=x@y.example from=me@example.com subject="Auto: s" period=168h0m0s`, "keep implicit"}},
		{name: "7 currentdate into variables", script: `require ["date", "variables", "fileinto"];
if currentdate :matches "month" "*" { set "month" "${1}"; }
if currentdate :matches "year"  "*" { set "year" "${1}"; }
fileinto "${month}-${year}";`, msg: msg, want: []string{"fileinto 07-2007"}},
		{name: "4.2 date parts", script: `require ["date", "variables", "reject"];
set "s" "";
if currentdate :zone "+0200" :matches "iso8601" "*" { set "s" "${s}${1}|"; }
if currentdate :matches "julian" "*" { set "s" "${s}${1}|"; }
if currentdate :matches "std11" "*" { set "s" "${s}${1}|"; }
if currentdate :matches "zone" "*" { set "s" "${s}${1}|"; }
if currentdate :matches "time" "*" { set "s" "${s}${1}"; }
reject "${s}";`, msg: msg,
			want: []string{"reject 2007-07-01T14:00:00+02:00|54282|Sun, 01 Jul 2007 12:00:00 +0000|+0000|12:00:00"}},
	})
}

// RFC 3894 copy and RFC 5490 mailbox.
func TestCopyAndMailbox(t *testing.T) {
	t.Parallel()
	exists := func(ctx context.Context, mb string) (bool, error) { return mb == "Partners", nil }
	runGolden(t, []golden{
		{name: "RFC 3894 :copy keeps the implicit keep", script: `require ["copy", "fileinto"];
fileinto :copy "incoming"; redirect :copy "archive@example.net";`, msg: "Subject: x\n\nb\n",
			want: []string{"fileinto incoming copy", "redirect archive@example.net copy", "keep implicit"}},
		{name: "RFC 5490 3.1 mailboxexists", script: `require ["mailbox", "fileinto"];
if mailboxexists "Partners" { fileinto "Partners"; }
if mailboxexists ["Partners", "Nope"] { fileinto "wrong"; }`, msg: "Subject: x\n\nb\n",
			env: Env{MailboxExists: exists}, want: []string{"fileinto Partners"}},
		{name: "RFC 5490 3.2 :create", script: `require ["mailbox", "fileinto"];
fileinto :create "INBOX.Spam";`, msg: "Subject: x\n\nb\n", want: []string{"fileinto INBOX.Spam create"}},
	})
}

// RFC 5429: reject and ereject, and their conflicts.
func TestRFC5429(t *testing.T) {
	t.Parallel()
	runGolden(t, []golden{
		{name: "2.2 reject", script: `require ["reject"];
if size :over 10 {
    reject text:
Your message is too big.  If you want to send me a big attachment,
put it on a public web site and send me a URL.
.
;
}`, msg: "Subject: x\n\nthis body is longer than ten bytes\n",
			want: []string{"reject Your message is too big.  If you want to send me a big attachment,\r\nput it on a public web site and send me a URL.\r\n"}},
		{name: "2.1 ereject", script: `require ["ereject"];
if address :domain :is "from" "example.com" { ereject "I no longer accept mail from this domain"; }`,
			msg: "From: a@example.com\n\nb\n", want: []string{"ereject I no longer accept mail from this domain"}},
		{name: "reject and redirect", script: `require ["reject"]; redirect "a@b.example"; reject "no";`,
			msg: "Subject: x\n\nb\n", want: []string{"redirect a@b.example", "reject no"}},
	})
	for _, src := range []string{
		`require ["reject"]; keep; reject "no";`,
		`require ["reject", "fileinto"]; reject "no"; fileinto "x";`,
		`require ["reject", "ereject"]; reject "no"; ereject "no";`,
		`require ["reject", "vacation"]; vacation "away"; reject "no";`,
	} {
		s, err := Compile("conflict", []byte(src), Options{})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		res, err := s.Run(context.Background(), NewMessage(crlf("From: a@b.example\nTo: me@example.com\n\nb\n"), nil,
			Envelope{From: "a@b.example", To: "me@example.com"}), Env{})
		if err == nil || !strings.Contains(err.Error(), "cannot be combined") {
			t.Errorf("%s: err = %v", src, err)
		}
		// RFC 5228 2.10.6: a failed run keeps the message.
		if got := summaries(res); len(got) != 1 || got[0] != "keep implicit" {
			t.Errorf("%s: actions after error = %q", src, got)
		}
	}
}

// RFC 6609: include, with the global-variables example of 3.4.
func TestRFC6609Include(t *testing.T) {
	t.Parallel()
	scripts := map[string]string{
		"personal:subject_tests": `require ["variables", "include"];
global ["test", "test_mailbox"];
if header :contains "Subject" "${test}"
{
    set "test_mailbox" "spam-${test}";
}`,
		"personal:always_allow": `require ["include", "envelope"];
if envelope :is "from" "friend@example.net" { keep; stop; }`,
		"global:spam_tests": `require ["include", "fileinto"];
if header :contains "subject" "viagra" { fileinto "Junk"; return; }
if header :contains "subject" "viagra" { discard; }`,
		"personal:loop":  `require "include"; include "loop2";`,
		"personal:loop2": `require "include"; include "loop";`,
		"personal:once":  `require ["include", "fileinto"]; fileinto "once";`,
		"personal:bad":   `require "include"; frobnicate;`,
	}
	var mu sync.Mutex
	loads := 0
	loader := func(ctx context.Context, name string, global bool) ([]byte, error) {
		mu.Lock()
		loads++
		mu.Unlock()
		key := "personal:" + name
		if global {
			key = "global:" + name
		}
		if s, ok := scripts[key]; ok {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("load %s: %w", key, ErrNoScript)
	}
	env := Env{Include: loader}
	runGolden(t, []golden{
		{name: "3.4 globals", script: `require ["variables", "include", "relational", "fileinto"];
global "test";
global "test_mailbox";

set "test" "$$";
include "subject_tests";

set "test" "Make money";
include "subject_tests";

if string :count "eq" "${test_mailbox}" "1"
{
    fileinto "${test_mailbox}";
    stop;
}`, msg: "Subject: Make money fast\n\nb\n", env: env, want: []string{"fileinto spam-Make money"}},
		{name: "3.2 personal and global, return", script: `require ["include"];
include :personal "always_allow";
include :global "spam_tests";
discard;`, msg: "Subject: cheap viagra\n\nb\n", env: env, want: []string{"fileinto Junk", "discard"}},
		{name: "3.2 stop in an included script", script: `require ["include"];
include :personal "always_allow";
discard;`, msg: "Subject: x\n\nb\n", envl: Envelope{From: "friend@example.net"}, env: env, want: []string{"keep"}},
		{name: "3.2 :once and :optional", script: `require ["include"];
include :once "once"; include :once "once"; include :optional "missing";`,
			msg: "Subject: x\n\nb\n", env: env, want: []string{"fileinto once"}},
	})
	for _, c := range []struct{ src, want string }{
		{`require "include"; include "loop";`, "includes itself"},
		{`require "include"; include "missing";`, `"missing" not found`},
		{`require "include"; include "bad";`, `bad:1:20: unknown command "frobnicate"`},
	} {
		s, err := Compile("main", []byte(c.src), Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Run(context.Background(), NewMessage(crlf("Subject: x\n\nb\n"), nil, Envelope{}), env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.src, err, c.want)
		}
	}
}

// RFC 5293: editheader.
func TestRFC5293Editheader(t *testing.T) {
	t.Parallel()
	raw := crlf(`
Received: from x by y; Mon, 2 Jul 2007 08:00:00 +0000
X-Spam: yes
Subject: hi
X-Spam: maybe
X-Spam: no

body
`)
	src := `require ["editheader", "fileinto", "index"];
addheader "X-Source" "mail.example.org";
addheader :last "X-Note" "café";
deleteheader :index 1 :last "X-Spam";
deleteheader :matches "X-Spam" "y*";
deleteheader "Received";
if header :is "x-spam" "maybe" { fileinto "edited-visible"; }
if exists "x-source" { fileinto "added-visible"; }`
	got, res := runScript(t, src, raw, Envelope{}, Env{})
	if strings.Join(got, ";") != "fileinto edited-visible;fileinto added-visible" {
		t.Errorf("actions %q", got)
	}
	want := "X-Source: mail.example.org\r\nReceived: from x by y; Mon, 2 Jul 2007 08:00:00 +0000\r\n" +
		"Subject: hi\r\nX-Spam: maybe\r\nX-Note: =?utf-8?q?caf=C3=A9?=\r\n\r\n"
	if !res.HeaderEdited || string(res.Header) != want {
		t.Errorf("header\n%q\nwant\n%q", res.Header, want)
	}
	msg := NewMessage(raw, nil, Envelope{})
	if string(raw[msg.BodyStart():]) != "body\r\n" {
		t.Errorf("body start %d", msg.BodyStart())
	}
}

// RFC 7352: duplicate.
func TestRFC7352Duplicate(t *testing.T) {
	t.Parallel()
	type call struct {
		id     string
		period time.Duration
		last   bool
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	var calls []call
	env := Env{Duplicate: func(ctx context.Context, id string, p time.Duration, last bool) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call{id, p, last})
		dup := seen[id]
		seen[id] = true
		return dup, nil
	}}
	src := `require ["duplicate", "fileinto", "mailbox"];
if duplicate { fileinto :create "Trash/Duplicate"; }`
	msg := crlf("Message-ID: <a@b>\nSubject: x\n\nb\n")
	got1, _ := runScript(t, src, msg, Envelope{}, env)
	got2, _ := runScript(t, src, msg, Envelope{}, env)
	if strings.Join(got1, ";") != "keep implicit" || strings.Join(got2, ";") != "fileinto Trash/Duplicate create" {
		t.Errorf("first %q second %q", got1, got2)
	}
	alerts := `require ["duplicate", "variables", "imap4flags", "fileinto"];
if header :matches "subject" "ALERT: *" {
  if duplicate :seconds 60 :last :uniqueid "${1}" { setflag "\\seen"; }
  fileinto "Alerts";
}`
	runScript(t, alerts, crlf("Subject: ALERT: disk full\n\nb\n"), Envelope{}, env)
	got3, _ := runScript(t, alerts, crlf("Subject: ALERT: disk full\n\nb\n"), Envelope{}, env)
	if strings.Join(got3, ";") != `fileinto Alerts flags=\seen` {
		t.Errorf("alerts %q", got3)
	}
	last := calls[len(calls)-1]
	if last.period != time.Minute || !last.last || !strings.Contains(last.id, "disk full") {
		t.Errorf("last call %+v", last)
	}
	// No Message-ID: the test is false and the callback is not asked.
	n := len(calls)
	got4, _ := runScript(t, src, crlf("Subject: x\n\nb\n"), Envelope{}, env)
	if strings.Join(got4, ";") != "keep implicit" || len(calls) != n {
		t.Errorf("no id: %q, calls %d -> %d", got4, n, len(calls))
	}
}

// RFC 5183: environment.
func TestRFC5183Environment(t *testing.T) {
	t.Parallel()
	env := Env{Environment: map[string]string{"domain": "example.com", "phase": "during", "name": "gannet"}}
	runGolden(t, []golden{
		{name: "items", script: `require ["environment", "fileinto"];
if environment :is "phase" "during" { fileinto "a"; }
if environment :contains "NAME" "GANN" { fileinto "b"; }
if environment :is "remote-ip" "" { fileinto "unknown-item-is-false"; }`,
			msg: "Subject: x\n\nb\n", env: env, want: []string{"fileinto a", "fileinto b"}},
	})
}

// A compiled script is shared by concurrent deliveries (run with -race).
func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	s, err := Compile("c", []byte(rfc5228Example), Options{})
	if err != nil {
		t.Fatal(err)
	}
	msg := NewMessage(crlf("From: a@b.example\nTo: you@x.example\nSubject: make money fast\n\nb\n"), nil, Envelope{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				res, err := s.Run(context.Background(), msg, Env{})
				if err != nil || summaries(res)[0] != "fileinto spam" {
					t.Errorf("run: %v %v", err, summaries(res))
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestSmallRules(t *testing.T) {
	t.Parallel()
	runGolden(t, []golden{
		{name: "RFC 6131 :days 0", script: `require "vacation-seconds";
vacation :days 0 "always";`, msg: "From: f@o.example\nTo: me@example.com\n\nb\n", envl: Envelope{From: "f@o.example"},
			env:  Env{VacationSent: func(context.Context, string, string, time.Duration) (bool, error) { return true, nil }},
			want: []string{`vacation to=f@o.example from=me@example.com subject="Automated reply" period=0s`, "keep implicit"}},
		{name: "encoded comparator", script: `require ["encoded-character"];
if header :comparator "${hex:69 3b 6f 63 74 65 74}" :is "subject" "X" { discard; }`,
			msg: "Subject: x\n\nb\n", want: []string{"keep implicit"}},
		{name: "discard then keep", script: `discard; keep;`, msg: "Subject: x\n\nb\n", want: []string{"discard", "keep"}},
		{name: "keep merges flags", script: `require "imap4flags"; keep :flags "a"; keep :flags ["b", "A"];`,
			msg: "Subject: x\n\nb\n", want: []string{"keep flags=a,b"}},
		{name: "address group and display names", script: `if address :all :is "to" ["x@y.example", "z@y.example"] { discard; }`,
			msg: "To: friends: \"X, the first\" <x@y.example>;\n\nb\n", want: []string{"discard"}},
		{name: "header :count", script: `require ["relational", "comparator-i;ascii-numeric"];
if header :count "eq" :comparator "i;ascii-numeric" "received" "3" { discard; }`,
			msg: "Received: a\nReceived: b\nReceived: c\n\nb\n", want: []string{"discard"}},
		{name: "variables in header names and :matches on envelope", script: `require ["variables", "envelope", "fileinto"];
set "h" "X-Folder";
if envelope :matches :localpart "to" "*+*" { fileinto "${2}"; }
if header :matches "${h}" "*" { fileinto "h-${1}"; }`, envl: Envelope{To: "me+lists@example.com"},
			msg: "X-Folder: work\n\nb\n", want: []string{"fileinto lists", "fileinto h-work"}},
	})
	if _, err := Compile("g", []byte(`require "include"; global "x";`), Options{}); err == nil {
		t.Error(`"global" without "variables" compiled`)
	}
}

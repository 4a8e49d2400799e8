package sieve

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// fuzzSeeds are scripts covering every command, test and tag, plus broken
// syntax, for FuzzCompile's seed corpus.
var fuzzSeeds = []string{
	rfc5228Example,
	`require ["fileinto", "reject", "ereject", "envelope", "encoded-character", "imap4flags", "copy", "body",
"variables", "date", "index", "relational", "subaddress", "mailbox", "vacation", "vacation-seconds", "include",
"editheader", "duplicate", "spamtestplus", "virustest", "environment", "comparator-i;ascii-numeric"];
if anyof (header :matches :comparator "i;octet" "subject" "*${hex:41}?*", address :user :index 1 :last "from" "x",
  envelope :detail "to" "d", body :content "text" :contains "x", date :zone "+0100" "date" "year" "2007",
  currentdate :value "ge" "date" "2000-01-01", string :count "gt" ["${1}", ""] "0", hasflag :is "v" "\\Seen",
  mailboxexists "INBOX", duplicate :handle "h" :header "message-id" :seconds 5, spamtest :percent :value "gt" "50",
  virustest :value "ge" :comparator "i;ascii-numeric" "3", environment :is "phase" "during", size :over 1M,
  not exists "x", allof(true, false)) {
  set :upper :length "v" "${0}"; setflag "v" "\\Seen"; addflag "a"; removeflag "a";
  fileinto :copy :create :flags ["\\Seen"] "Box.${v}"; redirect :copy "a@b.example"; keep :flags "x";
  addheader :last "X-A" "v"; deleteheader :index 1 :last :matches "X-A" "*";
  vacation :seconds 10 :subject "s" :from "a@b.example" :addresses ["x@y"] :mime :handle "h" "r";
  include :global :once :optional "inc"; global "g"; return;
} elsif true { discard; stop; } else { reject text:
multi
..line
.
; ereject "x"; }`,
	`if header :is "a" "b" { keep; } else keep;`,
	`require ["enotify", "variables"]; set :encodeurl "b" "x&y"; if valid_notify_method "mailto:a@b.example" {
notify :from "me@example.com" :importance "1" :options ["o"] :message "m ${b}" "mailto:a@b.example?body=${b}&cc=c@d.example"; }
if notify_method_capability :is "mailto:a@b.example" "online" "maybe" { keep; }`,
	`/* comment */ # hash
keep;`,
	`if size :over 99999999999999999999 { keep; }`,
	"reject text:\r\n.\r\n;",
	`require "variables"; set "a" "${${${"; set "b" "${a}${a}${a}"; set "c" "${b}${b}${b}${b}";`,
	`require "encoded-character"; keep :flags "${unicode: 1F600 }${hex:zz}";`,
	`if`, `{`, `(`, `[`, `"`, `:`, `text:`, `1G`, `if true {`,
}

func FuzzCompile(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	raw := crlf(`
Received: from a by b; Mon, 2 Jul 2007 08:00:00 +0000
From: Someone <some+detail@example.com>
To: me@example.com
Subject: =?utf-8?q?caf=C3=A9?= [x] y
Message-ID: <1@example.com>
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

hello *world*
--b--
`)
	env := Env{
		Now:           func() time.Time { return time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC) },
		MailboxExists: func(context.Context, string) (bool, error) { return true, nil },
		Duplicate:     func(context.Context, string, time.Duration, bool) (bool, error) { return true, nil },
		VacationSent:  func(context.Context, string, string, time.Duration) (bool, error) { return false, nil },
		Include: func(_ context.Context, name string, _ bool) ([]byte, error) {
			if name == "inc" {
				return []byte(`require "include"; keep; include "inc";`), nil
			}
			return nil, ErrNoScript
		},
		Spam: 5, Virus: 1, Environment: map[string]string{"phase": "during"},
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Compile("fuzz", src, Options{MaxScriptSize: 64 << 10, MaxSteps: 5000})
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("compile error %T %v is not *Error", err, err)
			}
			if strings.Contains(err.Error(), "\n") && !strings.Contains(err.Error(), "text:") {
				// Messages quote values with %q, so they stay on one line.
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		res, err := s.Run(context.Background(), NewMessage(raw, nil, Envelope{From: "a@b.example", To: "me@example.com"}), env)
		if res == nil {
			t.Fatalf("nil result, err %v", err)
		}
		if len(res.Actions) == 0 {
			t.Fatalf("no action at all (the implicit keep is missing): %v", err)
		}
	})
}

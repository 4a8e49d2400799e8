package sieve

import (
	"context"
	"strings"
	"testing"
	"time"
)

// RFC 5229: variables.
func TestRFC5229Examples(t *testing.T) {
	t.Parallel()
	const listMsg = `
List-ID: Sieve discussion <sieve.ietf.org>
Subject: [acme-users] [fwd] version 1.0 is out
To: coyote@ACME.Example.COM

body
`
	// 3.2, the match variables example.
	const matchScript = `require ["fileinto", "variables"];

if header :matches "List-ID" "*<*@*" {
    fileinto "INBOX.lists.${2}"; stop;
}

# Imagine the header
# Subject: [acme-users] [fwd] version 1.0 is out
if header :matches "Subject" "[*] *" {
    # ${1} will hold "acme-users",
    # ${2} will hold "[fwd] version 1.0 is out"
    fileinto "INBOX.lists.${1}"; stop;
}

# Imagine the header
# To: coyote@ACME.Example.COM
if address :matches ["To", "Cc"] ["coyote@**.com",
        "wile@**.com"] {
    # ${0} is the matching address
    # ${1} is always the empty string
    # ${2} is part of the domain name ("ACME.Example")
    fileinto "INBOX.business.${2}"; stop;
} else {
    # Control wouldn't reach this block if any match was
    # successful, so no match variables are set at this
    # point.
}

if anyof (true, address :domain :matches "To" "*.com") {
    # The second test is never evaluated, so there are
    # still no match variables set.
    stop;
}
`
	runGolden(t, []golden{
		{name: "3.2 list-id", script: matchScript, msg: `
List-ID: <sieve@ietf.org>

b
`, want: []string{"fileinto INBOX.lists.sieve"}},
		{name: "3.2 subject", script: matchScript, msg: `
Subject: [acme-users] [fwd] version 1.0 is out

b
`, want: []string{"fileinto INBOX.lists.acme-users"}},
		{name: "3.2 address", script: matchScript, msg: `
To: coyote@ACME.Example.COM

b
`, want: []string{"fileinto INBOX.business.ACME.Example"}},
		{name: "3 text and case-insensitive names", script: `require ["variables", "reject"];
set "honorific"  "Mr";
set "first_name" "Wile";
set "last_name"  "Coyote";
set "vacation" text:
Dear ${HONORIFIC} ${last_name},
I'm out, please leave a message after the meep.
.
;
reject "${vacation}";`, msg: listMsg,
			want: []string{"reject Dear Mr Coyote,\r\nI'm out, please leave a message after the meep.\r\n"}},
		{name: "4.1 modifiers", script: `require ["variables", "reject"];
set "a" "juMBlEd lETteRS";
set :length "b" "${a}";
set :lower "c" "${a}";
set :upperfirst "d" "${a}";
set :upperfirst :lower "e" "${a}";
set :quotewildcard "f" "Rock*";
reject "${b}|${c}|${d}|${e}|${f}";`, msg: listMsg,
			want: []string{`reject 15|jumbled letters|JuMBlEd lETteRS|Jumbled letters|Rock\*`}},
		{name: "5 string test", script: `require ["variables", "fileinto"];
set "state" "${state} pending";
if string :matches " ${state} " "* pending *" {
    fileinto "always";
}`, msg: listMsg, want: []string{"fileinto always"}},
		{name: "3 unknown and invalid references", script: `require ["variables", "reject"];
reject "${unset}|${1}|${bad-name}|${";`, msg: listMsg, want: []string{"reject ||${bad-name}|${"}},
		{name: "3 no recursion", script: `require ["variables", "reject"];
set "a" "${b}"; set "b" "x"; set "c" "$${b}"; reject "${a}|${c}";`,
			msg: listMsg, want: []string{"reject |$x"}},
	})
}

// RFC 5230: vacation.
func TestRFC5230Examples(t *testing.T) {
	t.Parallel()
	const msg = `
From: Friend <friend@other.example>
To: me@example.com
Subject: lunch?
Message-ID: <1@other.example>

body
`
	const script = `require "vacation";
if header :contains "subject" "cyrus" {
    vacation "I'm out -- send mail to cyrus-bugs";
} else {
    vacation "I'm out -- call me at 321-1234";
}`
	sender := Envelope{From: "friend@other.example"}
	runGolden(t, []golden{
		{name: "4 reply", script: script, msg: msg, envl: sender,
			want: []string{`vacation to=friend@other.example from=me@example.com subject="Auto: lunch?" period=168h0m0s`, "keep implicit"}},
		{name: "4.5 null sender", script: script, msg: msg,
			want: []string{"keep implicit"}},
		{name: "4.6 list", script: script, msg: "List-Id: <l.example>\n" + msg[1:], envl: sender,
			want: []string{"keep implicit"}},
		{name: "RFC 3834 auto-submitted", script: script, msg: "Auto-Submitted: auto-replied\n" + msg[1:], envl: sender,
			want: []string{"keep implicit"}},
		{name: "RFC 3834 precedence bulk", script: script, msg: "Precedence: bulk\n" + msg[1:], envl: sender,
			want: []string{"keep implicit"}},
		{name: "4.6 mailer-daemon", script: script, msg: msg, envl: Envelope{From: "MAILER-DAEMON@other.example"},
			want: []string{"keep implicit"}},
		{name: "4.6 own address", script: script, msg: msg, envl: Envelope{From: "me@example.com"},
			want: []string{"keep implicit"}},
		{name: "4.5 not a visible recipient", script: script,
			msg: "From: friend@other.example\nTo: list@other.example\nSubject: x\n\nb\n", envl: sender,
			want: []string{"keep implicit"}},
		{name: "4.5 :addresses", script: `require "vacation";
vacation :days 23 :addresses ["tjs@example.edu",
                              "ts4z@landru.example.edu"]
   "I'm away until October 19.
   If it's an emergency, call 911, I guess." ;`,
			msg:  "From: friend@other.example\nTo: TS4Z@landru.example.edu\nSubject: x\n\nb\n",
			envl: sender,
			want: []string{`vacation to=friend@other.example from=me@example.com subject="Auto: x" period=552h0m0s`, "keep implicit"}},
		{name: "4.3 :subject :from", script: `require "vacation";
vacation :days 7
  :from "hemingway@example.com" :subject "Gone fishing" "Gone fishing";`,
			msg: msg, envl: sender,
			want: []string{`vacation to=friend@other.example from=hemingway@example.com subject="Gone fishing" period=168h0m0s`, "keep implicit"}},
		{name: "RFC 6131 :seconds", script: `require "vacation-seconds";
vacation :seconds 1800 "back soon";`, msg: msg, envl: sender,
			want: []string{`vacation to=friend@other.example from=me@example.com subject="Auto: lunch?" period=30m0s`, "keep implicit"}},
		{name: "4.2 already replied", script: script, msg: msg, envl: sender,
			env: Env{VacationSent: func(ctx context.Context, handle, to string, p time.Duration) (bool, error) {
				return to == "friend@other.example", nil
			}},
			want: []string{"keep implicit"}},
	})
}

func TestVacationFields(t *testing.T) {
	t.Parallel()
	msg := crlf(`
From: friend@other.example
To: me@example.com
Subject: =?utf-8?q?caf=C3=A9?=
Message-ID: <2@other.example>
References: <1@other.example>

b
`)
	src := `require "vacation";
if header :contains "subject" "lunch" {
    vacation :handle "ran-away" "I'm out and can't meet for lunch";
} else {
    vacation :handle "ran-away" :mime "Content-Type: text/plain\r\n\r\nI'm out";
}`
	var gotHandle string
	env := Env{VacationSent: func(ctx context.Context, handle, to string, p time.Duration) (bool, error) {
		gotHandle = handle
		return false, nil
	}}
	_, res := runScript(t, src, msg, Envelope{From: "friend@other.example", To: "me@example.com"}, env)
	v := res.Actions[0].Vacation
	if v == nil || gotHandle != "ran-away" || v.Handle != "ran-away" || !v.MIME ||
		v.Subject != "Auto: café" || v.InReplyTo != "<2@other.example>" ||
		v.References != "<1@other.example> <2@other.example>" {
		t.Fatalf("vacation = %+v, handle %q", v, gotHandle)
	}
}

// RFC 5232: imap4flags.
func TestRFC5232Examples(t *testing.T) {
	t.Parallel()
	const msg = "From: boss@frobnitzm.example.edu\nTo: sales@frobnitzm.example.edu\nSubject: x\n\nb\n"
	runGolden(t, []golden{
		{name: "4 setflag implicit keep", script: `require ["imap4flags"];
if size :over 1 { setflag "\\Deleted"; }`, msg: msg, want: []string{`keep flags=\Deleted implicit`}},
		{name: "5 :flags and variable", script: `require ["imap4flags", "fileinto", "variables"];
if header :contains "from" "boss@frobnitzm.example.edu" {
    setflag "flagvar" "\\Flagged";
    fileinto :flags "${flagvar}" "INBOX.From Boss";
}`, msg: msg, want: []string{`fileinto INBOX.From Boss flags=\Flagged`}},
		{name: "3 internal variable", script: `require ["imap4flags", "fileinto"];
addflag "\\Seen \\Answered";
addflag ["$Work", "\\seen"];
removeflag "\\Answered";
fileinto "a";
setflag "\\Flagged";
keep;`, msg: msg, want: []string{`fileinto a flags=\Seen,$Work`, `keep flags=\Flagged`}},
		{name: "4 hasflag", script: `require ["imap4flags", "relational", "comparator-i;ascii-numeric", "fileinto"];
setflag ["\\Seen", "\\Flagged", "Junk"];
if hasflag :contains "junk" { fileinto "junk"; }
if hasflag :count "ge" :comparator "i;ascii-numeric" "3" { fileinto "many"; }
if hasflag :is "\\Draft" { fileinto "draft"; }`, msg: msg,
			want: []string{`fileinto junk flags=\Seen,\Flagged,Junk`, `fileinto many flags=\Seen,\Flagged,Junk`}},
	})
}

// RFC 5233: subaddress.
func TestRFC5233Examples(t *testing.T) {
	t.Parallel()
	const script = `require ["envelope", "subaddress", "fileinto"];

# In this example the same user account receives mail for both
# "ken@example.com" and "postmaster@example.com"

# File all messages to postmaster into a single mailbox,
# ignoring the :detail part.
if envelope :user "to" "postmaster" {
    fileinto "inbox.postmaster";
    stop;
}

# File mailing list messages (subscribed as "ken+mta-filters").
if envelope :detail "to" "mta-filters" {
    fileinto "inbox.ietf-mta-filters";
}

# Redirect all mail sent to "ken+foo".
if envelope :detail "to" "foo" {
    redirect "ken@example.net";
}
`
	const msg = "Subject: x\n\nb\n"
	runGolden(t, []golden{
		{name: "postmaster+x", script: script, msg: msg, envl: Envelope{To: "postmaster+x@example.com"}, want: []string{"fileinto inbox.postmaster"}},
		{name: "postmaster", script: script, msg: msg, envl: Envelope{To: "postmaster@example.com"}, want: []string{"fileinto inbox.postmaster"}},
		{name: "mta-filters", script: script, msg: msg, envl: Envelope{To: "ken+mta-filters@example.com"}, want: []string{"fileinto inbox.ietf-mta-filters"}},
		{name: "foo", script: script, msg: msg, envl: Envelope{To: "ken+foo@example.com"}, want: []string{"redirect ken@example.net"}},
		{name: "no detail", script: script, msg: msg, envl: Envelope{To: "ken@example.com"}, want: []string{"keep implicit"}},
		{name: "empty detail", script: "require \"subaddress\";\nif address :detail \"to\" \"\" { discard; }",
			msg: "To: ken+@example.com\n\nb\n", want: []string{"discard"}},
	})
}

// RFC 5235: spamtest, spamtestplus, virustest.
func TestRFC5235Examples(t *testing.T) {
	t.Parallel()
	const spam = `require ["spamtest", "fileinto", "relational", "comparator-i;ascii-numeric"];

if spamtest :value "eq" :comparator "i;ascii-numeric" "0"
{
    fileinto "INBOX.unclassified";
}
elsif spamtest :value "ge" :comparator "i;ascii-numeric" "3"
{
    fileinto "INBOX.spam-trap";
}`
	const plus = `require ["spamtestplus", "fileinto", "relational", "comparator-i;ascii-numeric"];

if spamtest :value "eq" :comparator "i;ascii-numeric" "0"
{
    fileinto "INBOX.unclassified";
}
elsif spamtest :percent :value "eq" :comparator "i;ascii-numeric" "0"
{
    fileinto "INBOX.not-spam";
}
elsif spamtest :percent :value "lt" :comparator "i;ascii-numeric" "37"
{
    fileinto "INBOX.spam-trap";
}
else
{
    discard;
}`
	const virus = `require ["virustest", "fileinto", "relational", "comparator-i;ascii-numeric"];

if virustest :value "eq" :comparator "i;ascii-numeric" "0"
{
    fileinto "INBOX.unclassified";
}
if virustest :value "eq" :comparator "i;ascii-numeric" "4"
{
    fileinto "INBOX.quarantine";
}
elsif virustest :value "eq" :comparator "i;ascii-numeric" "5"
{
    discard;
}`
	const msg = "Subject: x\n\nb\n"
	runGolden(t, []golden{
		{name: "spamtest untested", script: spam, msg: msg, want: []string{"fileinto INBOX.unclassified"}},
		{name: "spamtest 2", script: spam, msg: msg, env: Env{Spam: 2}, want: []string{"keep implicit"}},
		{name: "spamtest 7", script: spam, msg: msg, env: Env{Spam: 7}, want: []string{"fileinto INBOX.spam-trap"}},
		{name: "plus untested", script: plus, msg: msg, want: []string{"fileinto INBOX.unclassified"}},
		{name: "plus 0%", script: plus, msg: msg, env: Env{Spam: 1, SpamTested: true, SpamPercent: 0}, want: []string{"fileinto INBOX.not-spam"}},
		{name: "plus 20%", script: plus, msg: msg, env: Env{Spam: 3, SpamTested: true, SpamPercent: 20}, want: []string{"fileinto INBOX.spam-trap"}},
		{name: "plus 90%", script: plus, msg: msg, env: Env{Spam: 9, SpamTested: true, SpamPercent: 90}, want: []string{"discard"}},
		{name: "virus untested", script: virus, msg: msg, want: []string{"fileinto INBOX.unclassified"}},
		{name: "virus 4", script: virus, msg: msg, env: Env{Virus: 4}, want: []string{"fileinto INBOX.quarantine"}},
		{name: "virus 5", script: virus, msg: msg, env: Env{Virus: 5}, want: []string{"discard"}},
	})
}

// RFC 5173: body.
func TestRFC5173Examples(t *testing.T) {
	t.Parallel()
	const multipart = `
From: a@b.example
Subject: plans
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"

preamble
--XX
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

the missile=20coordinates are secret, see the project  schedule
--XX
Content-Type: audio/mp3
Content-Transfer-Encoding: base64

AAAA
--XX--
`
	runGolden(t, []golden{
		{name: "5.2 :content text", script: `require ["body", "fileinto"];
# Save any message with any text MIME part that contains the
# words "missile" or "coordinates" in the "secrets" folder.
if body :content "text" :contains ["missile", "coordinates"] {
        fileinto "secrets";
}
# Save any message with an audio/mp3 MIME part in
# the "jukebox" folder.
if body :content "audio/mp3" :contains "" {
        fileinto "jukebox";
}`, msg: multipart, want: []string{"fileinto secrets", "fileinto jukebox"}},
		{name: "5.3 :text decodes", script: `require ["body", "fileinto"];
if body :text :contains "missile coordinates" { fileinto "decoded"; }
if body :text :contains "AAAA" { fileinto "wrong"; }`,
			msg: multipart, want: []string{"fileinto decoded"}},
		{name: "5.1 :raw", script: `require "body";
# Discard messages containing "MAKE MONEY FAST" anywhere in the body
if body :raw :contains "MAKE MONEY FAST" { discard; }`,
			msg: "Subject: x\n\nplease MAKE MONEY FAST now\n", want: []string{"discard"}},
		{name: "5.2 multipart prologue and message/rfc822 header", script: `require ["body", "fileinto"];
if body :content "multipart" :contains "preamble" { fileinto "prologue"; }
if body :content "multipart" :contains "XX" { fileinto "wrong"; }
if body :content "message/rfc822" :contains "Inner subject" { fileinto "inner-header"; }
if body :content "text" :contains "inner body" { fileinto "inner-text"; }`, msg: `
Subject: outer
Content-Type: multipart/mixed; boundary="XX"

preamble
--XX
Content-Type: message/rfc822

Subject: Inner subject
Content-Type: text/plain

inner body
--XX--
epilogue
`, want: []string{"fileinto prologue", "fileinto inner-header", "fileinto inner-text"}},
		{name: "5.1 :raw is undecoded", script: `require "body";
if body :raw :contains "missile=20coordinates" { discard; }`,
			msg: multipart, want: []string{"discard"}},
	})
}

// RFC 5231: relational.
func TestRFC5231Examples(t *testing.T) {
	t.Parallel()
	const script = `require ["relational", "comparator-i;ascii-numeric", "fileinto"];

if header :value "lt" :comparator "i;ascii-numeric"
          ["x-priority"] ["3"]
{
    fileinto "Priority";
}

elsif address :count "gt" :comparator "i;ascii-numeric"
               ["to"] ["5"]
{
    # everything with more than 5 recipients in the "to" field
    # is considered SPAM
    fileinto "SPAM";
}

elsif address :value "gt" :all :comparator "i;ascii-casemap"
              ["from"] ["M"]
{
    fileinto "From N-Z";
} else {
    fileinto "From A-M";
}

if allof ( address :count "eq" :comparator "i;ascii-numeric"
                   ["to", "cc"] ["1"] ,
           address :all :comparator "i;ascii-casemap"
                   ["to", "cc"] ["me@foo.example.com"] )
{
    fileinto "Only me";
}`
	runGolden(t, []golden{
		{name: "6 example message", script: script, msg: `
Received: ...
Received: ...
Subject: example
To: foo@example.com, baz@example.com
CC: qux@example.com
From: coyote@desert.example.org
X-Priority: 1

b
`, want: []string{"fileinto Priority"}},
		{name: "6 many recipients", script: script, msg: `
To: a@x, b@x, c@x, d@x, e@x, f@x
From: zed@example.org
X-Priority: 5

b
`, want: []string{"fileinto SPAM"}},
		{name: "6 from N-Z only me", script: script, msg: `
To: me@foo.example.com
From: zed@example.org

b
`, want: []string{"fileinto From N-Z", "fileinto Only me"}},
		{name: "6 from A-M", script: script, msg: `
To: a@x, b@x
From: adam@example.org
X-Priority: abc

b
`, want: []string{"fileinto From A-M"}},
	})
}

func TestVacationCompose(t *testing.T) {
	t.Parallel()
	v := &Vacation{To: "friend@other.example", From: "me@example.com", Subject: "Auto: café\r\nBcc: x",
		Body: "I'm away.\nBack Monday.", InReplyTo: "<2@other.example>", References: "<1@x> <2@other.example>"}
	out := string(v.Compose(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "<r@example.com>"))
	want := "Date: Fri, 02 Jan 2026 03:04:05 +0000\r\nFrom: me@example.com\r\nTo: friend@other.example\r\n" +
		"Subject: =?utf-8?q?Auto:_caf=C3=A9_Bcc:_x?=\r\nMessage-ID: <r@example.com>\r\n" +
		"In-Reply-To: <2@other.example>\r\nReferences: <1@x> <2@other.example>\r\nAuto-Submitted: auto-replied\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		"I'm away.\r\nBack Monday.\r\n"
	if out != want {
		t.Errorf("got\n%q\nwant\n%q", out, want)
	}
	v.MIME, v.Body = true, "Content-Type: text/plain\n\nhi\n"
	out = string(v.Compose(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "<r@example.com>"))
	if !strings.HasSuffix(out, "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi\r\n") {
		t.Errorf("mime: %q", out)
	}
}

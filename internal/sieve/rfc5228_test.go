package sieve

import (
	"slices"
	"testing"
)

// golden is one example script, a message and the actions expected.
type golden struct {
	name   string
	script string
	msg    string
	envl   Envelope
	env    Env
	want   []string
}

func runGolden(t *testing.T, cases []golden) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			envl := c.envl
			if envl.To == "" {
				envl.To = "me@example.com"
			}
			got, _ := runScript(t, c.script, crlf(c.msg), envl, c.env)
			if !slices.Equal(got, c.want) {
				t.Errorf("actions\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// RFC 5228 9: the example filter, with a message for each of its branches.
const rfc5228Example = `#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
`

func TestRFC5228Examples(t *testing.T) {
	t.Parallel()
	runGolden(t, []golden{
		{name: "9 list", script: rfc5228Example, msg: `
Sender: owner-ietf-mta-filters@imc.org
From: someone@other.example
To: me@example.com
Subject: hi

body
`, want: []string{"fileinto filter"}},
		{name: "9 company", script: rfc5228Example, msg: `
From: Colleague <boss@EXAMPLE.com>
To: me@example.org
Subject: meeting

body
`, want: []string{"keep"}},
		{name: "9 not to me", script: rfc5228Example, msg: `
From: a@b.example
To: you@elsewhere.example
Subject: hello

body
`, want: []string{"fileinto spam"}},
		{name: "9 spam subject", script: rfc5228Example, msg: `
From: a@b.example
To: "Me" <me@example.com.au>
Subject: How to MAKE lots of MONEY very FAST!

body
`, want: []string{"fileinto spam"}},
		{name: "9 encoded subject", script: rfc5228Example, msg: `
From: a@b.example
Cc: me@example.com
Subject: =?utf-8?q?Your_university_diploma_in_mas?=

body
`, want: []string{"fileinto spam"}},
		{name: "9 personal", script: rfc5228Example, msg: `
From: friend@b.example
To: me@example.com.au, other@c.example
Subject: dinner

body
`, want: []string{"fileinto personal"}},
		{name: "2.10.2 implicit keep", script: `if false { discard; }`, msg: "Subject: x\n\nb\n",
			want: []string{"keep implicit"}},
		{name: "4.4 discard", script: `discard;`, msg: "Subject: x\n\nb\n", want: []string{"discard"}},
		{name: "3.3 stop", script: "require \"fileinto\";\nfileinto \"a\"; stop; fileinto \"b\";",
			msg: "Subject: x\n\nb\n", want: []string{"fileinto a"}},
		{name: "2.10.3 keep twice", script: `keep; keep;`, msg: "Subject: x\n\nb\n", want: []string{"keep"}},
		{name: "2.10.3 fileinto INBOX and keep", script: "require \"fileinto\";\nfileinto \"INBOX\"; keep; fileinto \"x\"; fileinto \"x\";",
			msg: "Subject: x\n\nb\n", want: []string{"fileinto INBOX", "fileinto x"}},
		{name: "4.2 redirect once per address", script: `redirect "a@b.example"; redirect "A@b.example";`,
			msg: "Subject: x\n\nb\n", want: []string{"redirect a@b.example"}},
		{name: "5.1 header multiple values", script: `if header :contains ["X-A", "X-B"] ["nope", "two"] { discard; }`,
			msg: "X-A: one\nX-B: first\nX-B: second two\n\nb\n", want: []string{"discard"}},
		{name: "5.5 exists all", script: `if exists ["From", "Date"] { discard; }`,
			msg: "From: a@b\n\nb\n", want: []string{"keep implicit"}},
		{name: "5.9 size over", script: `if size :over 1K { discard; } if size :under 1K { keep; }`,
			msg: "Subject: x\n\nsmall\n", want: []string{"keep"}},
		{name: "5.4 envelope", script: "require \"envelope\";\nif envelope :all :is \"from\" \"tim@example.com\" { discard; }",
			msg: "From: other@x.example\n\nb\n", envl: Envelope{From: "tim@example.com"}, want: []string{"discard"}},
		{name: "5.4 envelope null sender", script: "require \"envelope\";\nif envelope :is \"from\" \"\" { discard; }",
			msg: "Subject: bounce\n\nb\n", want: []string{"discard"}},
		{name: "2.7.4 localpart", script: `if address :localpart :is "from" "tim" { discard; }`,
			msg: "From: Tim <tim@example.com>\n\nb\n", want: []string{"discard"}},
		{name: "2.7.1 matches escapes", script: `if header :matches "subject" "\\*a?c\\?" { discard; }`,
			msg: "Subject: *abc?\n\nb\n", want: []string{"discard"}},
		{name: "2.7.3 octet is case-sensitive", script: `if header :comparator "i;octet" :is "subject" "HELLO" { discard; }`,
			msg: "Subject: hello\n\nb\n", want: []string{"keep implicit"}},
		{name: "2.4.2 text: with dot-stuffing", script: "require \"reject\";\nreject text:\n..line\nx\n.\n;",
			msg: "Subject: hi\n\nb\n", want: []string{"reject .line\r\nx\r\n"}},
		{name: "2.4.2.4 encoded-character", script: "require [\"encoded-character\"];\nif header :is \"subject\" \"${hex:48 69}${unicode:21}\" { discard; }",
			msg: "Subject: Hi!\n\nb\n", want: []string{"discard"}},
	})
}

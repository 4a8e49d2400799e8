package sieve

import (
	"context"
	"strings"
	"testing"
)

// benchScript is a typical user script: lists, spam, a vacation, flags.
const benchScript = `require ["fileinto", "envelope", "variables", "imap4flags", "vacation", "relational",
"comparator-i;ascii-numeric", "spamtest", "body", "subaddress"];
if spamtest :value "ge" :comparator "i;ascii-numeric" "6" { fileinto "Junk"; stop; }
if header :matches "List-Id" "*<*.*>*" { fileinto "Lists/${2}"; stop; }
if envelope :detail "to" "shop" { addflag "$Shopping"; fileinto "Shopping"; }
if anyof (header :contains "subject" ["invoice", "receipt"], body :text :contains "order number") {
  fileinto "Receipts";
}
if address :domain :is "from" ["work.example", "corp.example"] { setflag "\\Flagged"; }
vacation :days 3 :subject "Away" "I am away until Monday.";
`

func benchMessage() []byte {
	return crlf("From: Someone <someone@corp.example>\nTo: me@example.com\nSubject: your invoice\n" +
		"Message-ID: <1@corp.example>\nDate: Mon, 2 Jul 2007 10:15:00 -0700\n" +
		strings.Repeat("Received: from x by y; Mon, 2 Jul 2007 10:15:00 -0700\n", 5) +
		"Content-Type: text/plain\n\n" + strings.Repeat("Hello, this is the body of the message.\n", 100))
}

func BenchmarkRun(b *testing.B) {
	s, err := Compile("bench", []byte(benchScript), Options{})
	if err != nil {
		b.Fatal(err)
	}
	raw := benchMessage()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		msg := NewMessage(raw, nil, Envelope{From: "someone@corp.example", To: "me+shop@example.com"})
		if _, err := s.Run(ctx, msg, Env{Spam: 2}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile("bench", []byte(benchScript), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

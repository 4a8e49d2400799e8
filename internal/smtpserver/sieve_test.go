package smtpserver

import (
	"context"
	"testing"
)

// pythonReject sends two messages to alice over the MX with Python's smtplib:
// one her Sieve script rejects, one it keeps, and prints the outcomes.
const pythonReject = `
import smtplib, sys
host, port = sys.argv[1], int(sys.argv[2])
s = smtplib.SMTP(host, port, local_hostname="client.example.net")
for subject in ["buy now", "hello"]:
    msg = "From: s@remote.example\r\nTo: alice@example.org\r\nSubject: %s\r\n\r\nbody\r\n" % subject
    try:
        s.sendmail("s@remote.example", ["alice@example.org"], msg)
        print("sent", subject)
    except smtplib.SMTPDataError as e:
        print("refused", e.smtp_code, e.smtp_error.decode())
s.quit()
`

// TestMXSieveReject: a Sieve reject of the only recipient is the reply to
// DATA, 550 5.7.1 with the script's reason (RFC 5429 2.1), while the SMTP
// transaction is still open; the message is not stored.
func TestMXSieveReject(t *testing.T) {
	t.Parallel()
	py := needTool(t, "python3", "python3")
	e := newEnv(t, MX)
	ctx := context.Background()
	if err := e.st.PutSieveScript(ctx, e.alice.ID, "s", []byte(`require "ereject";
if header :contains "subject" "buy" { ereject "We do not buy."; }`)); err != nil {
		t.Fatal(err)
	}
	if err := e.st.ActivateSieveScript(ctx, e.alice.ID, "s"); err != nil {
		t.Fatal(err)
	}
	host, port := swaksPort(e.addr)
	out, err := run(t, py, writeFile(t, "reject.py", []byte(pythonReject)), host, port)
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	if want := "refused 550 5.7.1 We do not buy.\nsent hello\n"; out != want {
		t.Fatalf("python said\n%s\nwant\n%s", out, want)
	}
	if got := subjects(e.inbox(e.alice)); len(got) != 1 || got[0] != "hello" {
		t.Fatalf("alice has %q, want only the kept message", got)
	}
}

// BenchmarkMXDeliverSieve is BenchmarkMXDeliver with a typical active script
// (a few header tests, flags, fileinto) for the recipient: the cost of Sieve
// in delivery, compared with BenchmarkMXDeliver in the same run.
func BenchmarkMXDeliverSieve(b *testing.B) {
	benchMXDeliver(b, benchMX(b, `require ["fileinto", "imap4flags", "mailbox"];
if header :contains "list-id" "announce" { fileinto :create "Lists/Announce"; stop; }
if address :domain "from" "bank.example" { addflag "\\Flagged"; }
if header :matches "subject" "*bench 1?*" { addflag "$Bench"; }
keep;
`))
}

package smtpserver

import (
	"context"
	"crypto/tls"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// Interop tests drive the programs users use. A missing program is a failure
// with the package to install, never a silent skip.

func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install it (Debian: apt-get install -y %s)", name, pkg)
	}
	return p
}

// run runs a tool with a deadline that only guards against a hang.
func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// needSwaksTLS fails unless swaks can do TLS (its Perl modules are separate
// Debian packages).
func needSwaksTLS(t *testing.T, swaks string) {
	t.Helper()
	out, _ := run(t, swaks, "--support")
	if !strings.Contains(out, "TLS supported") {
		t.Fatalf("swaks lacks TLS support: apt-get install -y libnet-ssleay-perl libio-socket-ssl-perl\n%s", out)
	}
}

func swaksPort(addr string) (string, string) {
	host, port, _ := net.SplitHostPort(addr)
	return host, port
}

func TestSwaksMX(t *testing.T) {
	t.Parallel()
	swaks := needTool(t, "swaks", "swaks")
	needSwaksTLS(t, swaks)
	e := newEnv(t, MX)
	host, port := swaksPort(e.addr)
	out, err := run(t, swaks, "--server", host, "--port", port, "--helo", "client.example.net",
		"--from", "sender@remote.example", "--to", "alice@example.org,bob@example.org",
		"--header", "Subject: swaks to the mx", "--body", "Hello from swaks.")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	if !strings.Contains(out, "<-  250 2.0.0 OK: message accepted") {
		t.Errorf("swaks transcript lacks the 250:\n%s", out)
	}
	for _, a := range []struct {
		name string
		id   int64
	}{{"alice", e.alice.ID}, {"bob", e.bob.ID}} {
		msgs := listInbox(t, e.st, a.id)
		if len(msgs) != 1 || msgs[0].Parsed.Subject != "swaks to the mx" {
			t.Fatalf("%s has %q", a.name, subjects(msgs))
		}
		if raw := e.raw(msgs[0]); !strings.Contains(raw, "Hello from swaks.") {
			t.Errorf("%s: body lost: %q", a.name, raw)
		}
	}
	// Relay attempt: swaks reports the refusal and fails.
	out, err = run(t, swaks, "--server", host, "--port", port, "--from", "sender@remote.example",
		"--to", "victim@remote.example")
	if err == nil || !strings.Contains(out, "554 5.7.1") {
		t.Errorf("relay through the MX: err %v\n%s", err, out)
	}
	// STARTTLS on the MX.
	out, err = run(t, swaks, "--server", host, "--port", port, "--tls", "--from", "sender@remote.example",
		"--to", "carol@example.org", "--header", "Subject: swaks tls")
	if err != nil {
		t.Fatalf("swaks --tls: %v\n%s", err, out)
	}
	if got := subjects(e.inbox(e.carol)); !slices.Equal(got, []string{"swaks tls"}) {
		t.Fatalf("carol has %q", got)
	}
	if raw := e.raw(e.inbox(e.carol)[0]); !strings.Contains(raw, " with ESMTPS id ") {
		t.Errorf("Received after swaks --tls: %q", raw[:min(300, len(raw))])
	}
}

func TestSwaksSubmission(t *testing.T) {
	t.Parallel()
	swaks := needTool(t, "swaks", "swaks")
	needSwaksTLS(t, swaks)
	e := newEnv(t, Submission)
	implicit, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.serve(tls.NewListener(implicit, e.serverTLS))
	host, port := swaksPort(e.addr)
	_, port465 := swaksPort(implicit.Addr().String())
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"starttls-plain", []string{"--port", port, "--tls", "--auth", "PLAIN"}},
		{"starttls-login", []string{"--port", port, "--tls", "--auth", "LOGIN"}},
		{"implicit-plain", []string{"--port", port465, "--tlsc", "--auth", "PLAIN"}},
	} {
		args := append([]string{"--server", host, "--auth-user", "alice@example.org", "--auth-password", alicePW,
			"--from", "alice@example.org", "--to", "bob@example.org,friend@remote.example",
			"--header", "Subject: swaks " + tt.name}, tt.args...)
		out, err := run(t, swaks, args...)
		if err != nil {
			t.Fatalf("swaks %s: %v\n%s", tt.name, err, out)
		}
	}
	got := subjects(e.inbox(e.bob))
	if !slices.Equal(got, []string{"swaks starttls-plain", "swaks starttls-login", "swaks implicit-plain"}) {
		t.Fatalf("bob has %q", got)
	}
	if q := e.q.all(); len(q) != 3 || !slices.Equal(q[0].Recipients, []string{"friend@remote.example"}) || q[0].AccountID != e.alice.ID {
		t.Fatalf("queued %d messages: %+v", len(q), q)
	}
	// Wrong password, and AUTH without TLS.
	out, err := run(t, swaks, "--server", host, "--port", port, "--tls", "--auth", "PLAIN",
		"--auth-user", "alice@example.org", "--auth-password", "wrong", "--from", "alice@example.org", "--to", "bob@example.org")
	if err == nil || !strings.Contains(out, "535 5.7.8") {
		t.Errorf("wrong password: err %v\n%s", err, out)
	}
	out, err = run(t, swaks, "--server", host, "--port", port, "--auth", "PLAIN",
		"--auth-user", "alice@example.org", "--auth-password", alicePW, "--from", "alice@example.org", "--to", "bob@example.org")
	if err == nil || strings.Contains(out, "235 ") {
		t.Errorf("AUTH without TLS: err %v\n%s", err, out)
	}
	// Sending as someone else.
	out, err = run(t, swaks, "--server", host, "--port", port, "--tls", "--auth", "PLAIN",
		"--auth-user", "alice@example.org", "--auth-password", alicePW, "--from", "bob@example.org", "--to", "carol@example.org")
	if err == nil || !strings.Contains(out, "550 5.7.1") {
		t.Errorf("forged sender: err %v\n%s", err, out)
	}
}

// pythonClient is a Python smtplib client; it prints one line per outcome.
const pythonClient = `
import smtplib, ssl, sys
from email.message import EmailMessage

mode, host, port, cafile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=cafile)

def msg(frm, to, subject, body):
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = frm, to, subject
    m.set_content(body)
    return m

if mode == "mx":
    with smtplib.SMTP(host, port, local_hostname="client.example.net") as s:
        code, caps = s.ehlo()
        print("ehlo", code, "smtputf8" if s.has_extn("smtputf8") else "-", "chunking" if s.has_extn("chunking") else "-")
        s.send_message(msg("py@remote.example", "alice@example.org", "python mx", "Hello from smtplib.\n"))
        print("sent ascii")
        m = msg("Jörg <jörg@bücher.example>", "alice@example.org", "python grüße", "Grüße aus Python.\n")
        s.send_message(m, mail_options=["SMTPUTF8"])
        print("sent utf8")
        try:
            s.sendmail("py@remote.example", ["victim@remote.example"], "Subject: relay\r\n\r\nx\r\n")
            print("relayed")
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients["victim@remote.example"]
            print("refused", code, text.decode().split()[0])
        try:
            s.sendmail("py@remote.example", ["nobody@example.org"], "Subject: nobody\r\n\r\nx\r\n")
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients["nobody@example.org"]
            print("refused", code, text.decode().split()[0])
        # RFC 5321 4.1.1.3: the one recipient allowed without a domain.
        s.sendmail("py@remote.example", ["postmaster"], "Subject: to postmaster\r\n\r\nx\r\n")
        print("sent postmaster")
elif mode in ("submission", "submissions"):
    user, pw = sys.argv[5], sys.argv[6]
    if mode == "submission":
        s = smtplib.SMTP(host, port, local_hostname="laptop.example.net")
        s.starttls(context=ctx)
    else:
        s = smtplib.SMTP_SSL(host, port, local_hostname="laptop.example.net", context=ctx)
    try:
        s.login(user, "wrong password")
    except smtplib.SMTPAuthenticationError as e:
        print("auth failed", e.smtp_code, e.smtp_error.decode().split()[0])
    s.user, s.password = user, pw
    code, _ = s.auth("LOGIN", s.auth_login)
    print("auth login", code)
    s.send_message(msg(user, "bob@example.org", "python " + mode, "Hello Bob.\n"))
    print("sent")
    try:
        s.send_message(msg("bob@example.org", "carol@example.org", "forged", "x\n"), from_addr=user)
        print("forged accepted")
    except smtplib.SMTPDataError as e:
        print("forged refused", e.smtp_code, e.smtp_error.decode().split()[0])
    s.quit()
`

func TestPythonSmtplib(t *testing.T) {
	t.Parallel()
	py := needTool(t, "python3", "python3")
	script := writeFile(t, "client.py", []byte(pythonClient))

	t.Run("mx", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, MX)
		cafile := writeFile(t, "ca.pem", e.certPEM)
		host, port := swaksPort(e.addr)
		out, err := run(t, py, script, "mx", host, port, cafile)
		if err != nil {
			t.Fatalf("python: %v\n%s", err, out)
		}
		want := "ehlo 250 smtputf8 chunking\nsent ascii\nsent utf8\nrefused 554 5.7.1\nrefused 550 5.1.1\nsent postmaster\n"
		if out != want {
			t.Errorf("python said\n%s\nwant\n%s", out, want)
		}
		msgs := e.inbox(e.alice)
		// The bare postmaster reaches the oldest account, alice.
		if got := subjects(msgs); !slices.Equal(got, []string{"python mx", "python grüße", "to postmaster"}) {
			t.Fatalf("alice has %q", got)
		}
		if raw := e.raw(msgs[1]); !strings.Contains(raw, "Return-Path: <jörg@bücher.example>") || !strings.Contains(raw, "with UTF8SMTP id") {
			t.Errorf("SMTPUTF8 message: %q", raw[:min(len(raw), 300)])
		}
	})
	for _, mode := range []string{"submission", "submissions"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Submission)
			addr := e.addr
			if mode == "submissions" {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				e.serve(tls.NewListener(ln, e.serverTLS))
				addr = ln.Addr().String()
			}
			cafile := writeFile(t, "ca.pem", e.certPEM)
			host, port := swaksPort(addr)
			out, err := run(t, py, script, mode, host, port, cafile, "alice@example.org", alicePW)
			if err != nil {
				t.Fatalf("python: %v\n%s", err, out)
			}
			want := "auth failed 535 5.7.8\nauth login 235\nsent\nforged refused 550 5.7.1\n"
			if out != want {
				t.Errorf("python said\n%s\nwant\n%s", out, want)
			}
			if got := subjects(e.inbox(e.bob)); !slices.Equal(got, []string{"python " + mode}) {
				t.Fatalf("bob has %q", got)
			}
			if got := subjects(e.inbox(e.carol)); len(got) != 0 {
				t.Fatalf("carol got the forged message")
			}
		})
	}
}

package pop3server

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/store"
)

// FuzzSession feeds arbitrary bytes to the command loop as a client would,
// over a real connection to a real server with a real store. The server must
// never panic (a recovered panic is logged, and the env's cleanup fails the
// test on it), must answer only in whole CRLF lines, and must end the
// connection when the client stops sending.
func FuzzSession(f *testing.F) {
	login := "USER " + alice + "\r\nPASS " + alicePw + "\r\n"
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + alice + "\x00" + alicePw))
	for _, s := range []string{
		"CAPA\r\nQUIT\r\n",
		login + "STAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 1\r\nDELE 1\r\nRSET\r\nNOOP\r\nQUIT\r\n",
		login + "DELE 1\r\nDELE 1\r\nLIST 1\r\nRETR 99\r\nTOP 1 -1\r\nQUIT\r\n",
		"AUTH PLAIN " + plain + "\r\nRETR 3\r\nLIST 3\r\nQUIT\r\n",
		"AUTH PLAIN\r\n" + plain + "\r\nUIDL 1\r\n",
		"AUTH LOGIN\r\n" + base64.StdEncoding.EncodeToString([]byte(alice)) + "\r\n*\r\n",
		"STLS\r\nUSER x\r\nPASS y\r\n",
		"USER\r\nPASS\r\nAUTH\r\nAUTH X\r\nAUTH PLAIN ===\r\n",
		login + "RETR 1\nTOP 1 0\n\n\n\x00\xff\r\r\n",
		strings.Repeat("A", 5000) + "\r\nCAPA\r\n",
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, withOptions(func(o *Options) {
		// Never block the fuzzer's address, never make it wait.
		o.Limiter = authlimit.New(authlimit.Config{PerMinute: 1 << 30, MaxDelay: time.Nanosecond})
		o.TLS = serverTLS(f)
	}))
	raws := [][]byte{
		msg("one", "line\n.dot\n"),
		[]byte("Subject: bare\n\n.x\nno end"),
		msg("three", strings.Repeat("body line\n", 50)),
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, input []byte) {
		// Keep the maildrop stocked: an input may have deleted everything.
		if list, err := e.st.List(ctx, e.acct.ID, e.inbox, nil, store.ListOptions{}); err != nil {
			t.Fatal(err)
		} else if len(list) < len(raws) {
			for _, r := range raws {
				if _, err := e.st.Append(ctx, e.acct.ID, e.inbox, r, nil, time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		nc, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(ioWait))
		read := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(nc)
			read <- b
		}()
		nc.Write(input)
		nc.(*net.TCPConn).CloseWrite()
		out := <-read
		// Every answer is whole lines; anything else would desynchronise a client.
		if len(out) > 0 && !strings.HasSuffix(string(out), "\r\n") {
			if !strings.Contains(string(out), "+OK begin TLS negotiation") {
				t.Fatalf("output does not end in CRLF: %q", out[max(0, len(out)-200):])
			}
		}
		// Each session ends before the next so that none meets [IN-USE].
		e.waitIdleTB(t)
		logs := e.logs.take()
		if strings.Contains(logs, "panic serving connection") {
			t.Fatalf("the server panicked:\n%s", logs)
		}
		if strings.Contains(logs, alicePw) {
			t.Fatalf("the password appears in the log:\n%s", logs)
		}
	})
}

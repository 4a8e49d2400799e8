package smtpserver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"gannet/internal/delivery"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// BenchmarkMXDeliver measures durable deliveries per second through the MX:
// 10 sessions per GOMAXPROCS (20 on two cores, like smtp-source -s 20), each
// pipelining MAIL and RCPT before DATA, with 4 KiB messages. Every 250 comes
// after the store commit.
func BenchmarkMXDeliver(b *testing.B) { benchMXDeliver(b, benchMX(b)) }

func benchMXDeliver(b *testing.B, ln net.Listener) {

	body := strings.Repeat(strings.Repeat("x", 62)+"\r\n", 4096/64)
	b.SetBytes(int64(len(body)))
	b.SetParallelism(10) // 10 sessions per GOMAXPROCS: 20 on two cores, as smtp-source -s 20
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Minute))
		r := bufio.NewReader(c)
		reply := func() int {
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					b.Error(err)
					return 0
				}
				if len(line) > 3 && line[3] == ' ' {
					var code int
					fmt.Sscanf(line, "%d", &code)
					return code
				}
			}
		}
		reply()
		io.WriteString(c, "EHLO bench.example\r\n")
		reply()
		i := 0
		for pb.Next() {
			i++
			var buf bytes.Buffer
			buf.WriteString("MAIL FROM:<bench@remote.example>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
			c.Write(buf.Bytes())
			for _, want := range []int{250, 250, 354} {
				if got := reply(); got != want {
					b.Errorf("reply %d, want %d", got, want)
					return
				}
			}
			fmt.Fprintf(c, "Subject: bench %d\r\nFrom: bench@remote.example\r\n\r\n%s.\r\n", i, body)
			if got := reply(); got != 250 {
				b.Errorf("DATA reply %d", got)
				return
			}
		}
		io.WriteString(c, "QUIT\r\n")
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// benchMX starts an MX on a real store with alice@example.org; with a
// script, alice's active Sieve script.
func benchMX(b *testing.B, script ...string) net.Listener {
	st := testopen.Open(b, testopen.FastPasswords)
	alice := storetest.NewAccount(b, st, "alice@example.org", "pw")
	for _, src := range script {
		if err := st.PutSieveScript(b.Context(), alice.ID, "bench", []byte(src)); err != nil {
			b.Fatal(err)
		}
		if err := st.ActivateSieveScript(b.Context(), alice.ID, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	d := delivery.New(delivery.Options{Store: st, Hostname: "mx.example.org"})
	srv := New(Options{Mode: MX, Hostname: "mx.example.org", Store: st, Deliverer: d})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return ln
}

// BenchmarkDataSplitDot: one client that writes the message and the final
// "." in two writes, as many do. Without connlimit.QuickAck after 354, Nagle
// on the client and our delayed ACK made each message take ~43 ms (Postfix
// too); with it, the time is the delivery's.
func BenchmarkDataSplitDot(b *testing.B) {
	ln := benchMX(b)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	// Go sets TCP_NODELAY on every connection; C and Python clients keep
	// Nagle's algorithm on, and that is the case measured here.
	if err := c.(*net.TCPConn).SetNoDelay(false); err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReader(c)
	reply := func(want string) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) > 3 && line[3] == ' ' {
				if !strings.HasPrefix(line, want) {
					b.Fatalf("got %q, want %s", line, want)
				}
				return
			}
		}
	}
	reply("220")
	io.WriteString(c, "EHLO bench.example\r\n")
	reply("250")
	body := "Subject: split\r\n\r\n" + strings.Repeat("y", 1000) + "\r\n"
	for b.Loop() {
		for _, cmd := range []string{"MAIL FROM:<bench@remote.example>", "RCPT TO:<alice@example.org>"} {
			io.WriteString(c, cmd+"\r\n")
			reply("250")
		}
		io.WriteString(c, "DATA\r\n")
		reply("354")
		io.WriteString(c, body)
		io.WriteString(c, ".\r\n")
		reply("250")
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/msg")
}

func BenchmarkBareLineEnding(b *testing.B) {
	msg := []byte(strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do.\r\n", 16<<10))
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if hasBareLineEnding(msg) {
			b.Fatal("false positive")
		}
	}
}

// BenchmarkMXConnPerMessage is what smtp-source does by default: one
// connection per message, each command waiting for its reply (no
// pipelining), 20 sessions on two cores, a 4 KiB message with the header
// fields smtp-source writes. Besides the delivery it measures what a
// connection costs: accept, greeting, buffers, the session's logger, close.
func BenchmarkMXConnPerMessage(b *testing.B) {
	ln := benchMX(b)
	body := strings.Repeat(strings.Repeat("x", 62)+"\r\n", 4096/64)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.SetParallelism(10)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if err := benchOneConn(ln.Addr().String(), i, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// benchOneConn sends one message on its own connection, as smtp-source does.
func benchOneConn(addr string, i int, body string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	step := func(send string, want int) error {
		if send != "" {
			if _, err := io.WriteString(c, send); err != nil {
				return err
			}
		}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if len(line) > 3 && line[3] == ' ' {
				if !strings.HasPrefix(line, fmt.Sprint(want)) {
					return fmt.Errorf("after %q: %q, want %d", send, line, want)
				}
				return nil
			}
		}
	}
	msg := fmt.Sprintf("From: <a@remote.example>\r\nTo: <alice@example.org>\r\nDate: Mon,  7 Dec 2026 14:43:12 +0000 (UTC)\r\n"+
		"Message-Id: <%d.bench@remote.example>\r\n\r\n%s.\r\n", i, body)
	for _, s := range []struct {
		send string
		want int
	}{{"", 220}, {"EHLO bench.remote.example\r\n", 250}, {"MAIL FROM:<a@remote.example>\r\n", 250},
		{"RCPT TO:<alice@example.org>\r\n", 250}, {"DATA\r\n", 354}, {msg, 250}, {"QUIT\r\n", 221}} {
		if err := step(s.send, s.want); err != nil {
			return err
		}
	}
	return nil
}

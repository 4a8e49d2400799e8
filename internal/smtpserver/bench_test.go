package smtpserver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gannet/internal/delivery"
	"gannet/internal/store/sqlstore"
	"gannet/internal/store/storetest"
)

// BenchmarkMXDeliver measures durable deliveries per second through the MX:
// 10 sessions per GOMAXPROCS (20 on two cores, like smtp-source -s 20), each
// pipelining MAIL and RCPT before DATA, with 4 KiB messages. Every 250 comes
// after the store commit.
func BenchmarkMXDeliver(b *testing.B) {
	st, err := sqlstore.Open(context.Background(), filepath.Join(b.TempDir(), "data"), sqlstore.Options{FastPasswords: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	storetest.NewAccount(b, st, "alice@example.org", "pw")
	d := delivery.New(delivery.Options{Store: st, Hostname: "mx.example.org"})
	srv := New(Options{Mode: MX, Hostname: "mx.example.org", Store: st, Deliverer: d})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

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

func BenchmarkBareLineEnding(b *testing.B) {
	msg := []byte(strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do.\r\n", 16<<10))
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if hasBareLineEnding(msg) {
			b.Fatal("false positive")
		}
	}
}

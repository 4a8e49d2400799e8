package imapserver_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gannet/internal/imapserver"
	"gannet/internal/store/storetest"
)

// panicWatch is a slog.Handler that records the server's recovered panics.
type panicWatch struct{ panics *atomic.Int64 }

func (h panicWatch) Enabled(context.Context, slog.Level) bool { return true }
func (h panicWatch) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		h.panics.Add(1)
	}
	return nil
}
func (h panicWatch) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicWatch) WithGroup(string) slog.Handler      { return h }

// FuzzSession sends random bytes to an authenticated session with a mailbox
// selected: the server must not panic and must keep serving.
func FuzzSession(f *testing.F) {
	var panics atomic.Int64
	e := newEnv(f, func(o *imapserver.Options) {
		o.Logger = slog.New(panicWatch{&panics})
		o.MaxLiteral = 1 << 16
	})
	e.deliver("INBOX", mimeMsg, storetest.Msg{Subject: "two", Body: "hello\n"})
	for _, seed := range []string{
		"a FETCH 1:* (FLAGS BODY[] BODY.PEEK[1.MIME]<0.5> BINARY[2] BINARY.SIZE[3] ENVELOPE BODYSTRUCTURE)\r\n",
		"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\nb ENABLE QRESYNC\r\n",
		"a SEARCH CHARSET UTF-8 OR (FROM x) NOT (SUBJECT {3+}\r\nabc) UID 1:* MODSEQ \"/flags/\\\\Seen\" all 5\r\n",
		"a STORE 1:2 (UNCHANGEDSINCE 3) +FLAGS.SILENT (\\Seen $x)\r\nb EXPUNGE\r\n",
		"a APPEND INBOX (\\Seen) \"01-Jan-2020 00:00:00 +0000\" {10+}\r\n0123456789\r\n",
		"a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (* %) RETURN (STATUS (MESSAGES SIZE))\r\n",
		"a IDLE\r\nDONE\r\nb COPY 1 Archive\r\nc MOVE 2 Trash\r\n",
		"a SELECT INBOX (QRESYNC (1 2 1:5 (1 1)))\r\nb SEARCH RETURN (SAVE MIN) ALL\r\nc FETCH $ UID\r\n",
		"a RENAME INBOX X\r\nb CREATE \"&Jjo-\" (USE (\\Sent))\r\nc DELETE X\r\n",
		"a AUTHENTICATE PLAIN\r\n*\r\n{5}\r\n\x00\x01\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w := e.loginT(t)
		w.cmd("s SELECT INBOX")
		w.sendRaw(string(data))
		w.nc.(*net.TCPConn).CloseWrite()
		w.nc.SetReadDeadline(time.Now().Add(ioWait))
		if _, err := io.Copy(io.Discard, w.nc); err != nil {
			t.Fatalf("session did not end: %v", err)
		}
		if n := panics.Load(); n > 0 {
			t.Fatalf("server panicked %d times", n)
		}
		// The server still serves.
		w2 := e.loginT(t)
		w2.cmd("n NOOP")
		w2.nc.Close()
	})
}

package smtpserver

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestNoSpaceRefusesMail: with less free space than 1.5 messages of the
// largest size, MAIL gets 452 4.3.1 (RFC 3463 X.3.1) and the session goes on;
// once space is back, mail is taken again.
func TestNoSpaceRefusesMail(t *testing.T) {
	t.Parallel()
	var free atomic.Int64
	free.Store(10 << 20)
	e := newEnv(t, MX, func(o *Options) {
		o.MaxMessageBytes = 10 << 20
		o.FreeSpace = func() (int64, error) { return free.Load(), nil }
	})
	w := e.dial()
	w.ehlo()
	w.cmd("MAIL FROM:<someone@remote.example>", 452, "4.3.1")
	w.cmd("NOOP", 250, "")
	free.Store(16 << 20) // one and a half messages: enough
	time.Sleep(spaceTTL + 100*time.Millisecond)
	w.cmd("MAIL FROM:<someone@remote.example>", 250, "")
	w.cmd("RSET", 250, "")
}

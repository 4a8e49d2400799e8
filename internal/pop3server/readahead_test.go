package pop3server

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestRETRReadAhead: a download in order is served from messages read ahead
// (cmd_retr.go), and must still send each message's own bytes: with messages
// marked deleted, empty, kept in a blob file (over 128 KiB), larger than the
// read-ahead budget, with bare LFs and lines starting with ".", and when the
// client goes back or jumps ahead.
func TestRETRReadAhead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var raws [][]byte
	for i := range 40 {
		var raw []byte
		switch i % 10 {
		case 3:
			raw = msg(fmt.Sprintf("file %d", i), strings.Repeat(fmt.Sprintf("blob file line %d\r\n", i), 9000)) // > 128 KiB
		case 5:
			raw = msg(fmt.Sprintf("big %d", i), strings.Repeat(fmt.Sprintf("over the budget %d\r\n", i), 4000)) // ~80 KB
		case 6:
			raw = []byte(fmt.Sprintf("Subject: bare %d\n\n.dot line\nbare LF\n..two dots\nno end", i))
		default:
			raw = msg(fmt.Sprintf("small %d", i), strings.Repeat(fmt.Sprintf("message %d says hello\r\n.\r\n", i), 10+i*20))
		}
		raws = append(raws, raw)
		if i%10 == 6 {
			e.appendRaw(raw)
		} else {
			e.deliver(raw)
		}
	}
	c := e.login()
	c.ok("DELE 8")
	c.ok("DELE 9")
	c.ok("DELE 22")
	deleted := map[int]bool{8: true, 9: true, 22: true}
	retr := func(n int) {
		t.Helper()
		if deleted[n] {
			c.fail(fmt.Sprintf("RETR %d", n), "-ERR")
			return
		}
		c.ok(fmt.Sprintf("RETR %d", n))
		if got, want := c.body(), wireForm(raws[n-1]); !bytes.Equal(got, want) {
			t.Fatalf("RETR %d: got %d octets %.60q, want %d octets %.60q", n, len(got), got, len(want), want)
		}
	}
	for n := 1; n <= 15; n++ {
		retr(n)
	}
	retr(3)  // back: read again
	retr(4)  // in order after the step back
	retr(30) // jump ahead, past what was read ahead
	for n := 16; n <= 40; n++ {
		retr(n)
	}
	c.ok("QUIT")
}

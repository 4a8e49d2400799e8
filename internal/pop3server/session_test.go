package pop3server

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestCAPAByState(t *testing.T) {
	t.Parallel()
	common := []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER", "LOGIN-DELAY 0", "IMPLEMENTATION Gannet"}
	cases := []struct {
		name       string
		opts       []envOpt
		stls       bool // issue STLS before CAPA
		transact   bool // log in before CAPA
		want       []string
		wantNoneOf []string
	}{
		{"dev loopback, no TLS", nil, false, false,
			append(slices.Clone(common), "USER", "SASL PLAIN LOGIN SCRAM-SHA-256"), []string{"STLS"}},
		{"dev loopback with TLS", []envOpt{withTLS()}, false, false,
			append(slices.Clone(common), "STLS", "USER", "SASL PLAIN LOGIN SCRAM-SHA-256"), nil},
		{"production before STLS", []envOpt{withTLS(), noDev()}, false, false,
			append(slices.Clone(common), "STLS"), []string{"USER", "SASL PLAIN LOGIN SCRAM-SHA-256"}},
		{"production after STLS", []envOpt{withTLS(), noDev()}, true, false,
			append(slices.Clone(common), "USER", "SASL PLAIN LOGIN SCRAM-SHA-256"), []string{"STLS"}},
		{"transaction", nil, false, true,
			common, []string{"STLS", "USER", "SASL PLAIN LOGIN SCRAM-SHA-256"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.opts...)
			var c *client
			if tc.transact {
				c = e.login()
			} else {
				c = e.dial()
			}
			if tc.stls {
				c.ok("STLS")
				c.startTLS()
			}
			c.ok("CAPA")
			got := c.lines()
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("CAPA %q lacks %q", got, w)
				}
			}
			for _, w := range tc.wantNoneOf {
				if slices.Contains(got, w) {
					t.Errorf("CAPA %q has %q", got, w)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("CAPA = %q, want exactly %q", got, tc.want)
			}
		})
	}
}

func TestUserPass(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(msg("one", "hello"))
	c := e.dial()
	c.fail("PASS "+alicePw, "-ERR send USER first")
	c.ok("USER nobody@example.org")
	c.ok("user " + alice) // keywords are case-insensitive; the later USER wins
	if r := c.ok("PASS " + alicePw); !strings.Contains(r, "1 messages") {
		t.Errorf("PASS answer %q does not say 1 messages", r)
	}
	c.ok("STAT")
	c.ok("QUIT")
	if rest := c.expectEOF(); rest != "" {
		t.Errorf("after QUIT got %q", rest)
	}
}

func TestWrongPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.secrets = append(e.secrets, "wrong horse")
	c := e.dial()
	c.ok("USER " + alice)
	c.fail("PASS wrong horse", "-ERR [AUTH] ")
	// After a failed PASS the client starts again with USER (RFC 1939 7).
	c.fail("PASS "+alicePw, "-ERR send USER first")
	c.ok("USER nobody@example.org")
	c.fail("PASS "+alicePw, "-ERR [AUTH] ")
	c.ok("USER " + alice)
	c.ok("PASS " + alicePw)
	c.ok("QUIT")
}

func TestWrongState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(msg("one", "x"))
	c := e.dial()
	for _, cmd := range []string{"STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "RSET", "TOP 1 1", "UIDL", "NOOP"} {
		c.fail(cmd, "-ERR command not valid in this state")
	}
	c.ok("CAPA") // good commands reset the bad-command count
	c.lines()
	c.fail("FROB", "-ERR unknown command")
	c.fail("", "-ERR unknown command")
	c.fail("APOP alice@example.org 0123456789abcdef0123456789abcdef", "-ERR unknown command")
	c.ok("CAPA")
	c.lines()
	c.ok("USER " + alice)
	c.ok("PASS " + alicePw)
	for _, cmd := range []string{"USER " + alice, "PASS x", "AUTH PLAIN", "STLS", "APOP a b"} {
		c.fail(cmd, "-ERR command not valid in this state")
	}
	c.fail("FROB 1", "-ERR unknown command")
	c.ok("NOOP")
	c.ok("QUIT")
}

func TestTransactionCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	raws := [][]byte{
		msg("first", "line 1\nline 2\nline 3\n"),
		msg("second", "only line\n"),
		msg("third", ""),
	}
	var uids []uint32
	for _, r := range raws {
		uids = append(uids, e.deliver(r))
	}
	uv := e.mailbox("INBOX").UIDValidity
	total := len(raws[0]) + len(raws[1]) + len(raws[2])

	c := e.login()
	if got, want := c.ok("STAT"), fmt.Sprintf("+OK 3 %d", total); got != want {
		t.Errorf("STAT = %q, want %q", got, want)
	}
	if got, want := c.ok("LIST"), fmt.Sprintf("+OK 3 messages (%d octets)", total); got != want {
		t.Errorf("LIST = %q, want %q", got, want)
	}
	wantList := []string{fmt.Sprintf("1 %d", len(raws[0])), fmt.Sprintf("2 %d", len(raws[1])), fmt.Sprintf("3 %d", len(raws[2]))}
	if got := c.lines(); !slices.Equal(got, wantList) {
		t.Errorf("LIST lines = %q, want %q", got, wantList)
	}
	if got, want := c.ok("LIST 2"), fmt.Sprintf("+OK 2 %d", len(raws[1])); got != want {
		t.Errorf("LIST 2 = %q, want %q", got, want)
	}
	c.fail("LIST 4", "-ERR no such message")
	c.fail("LIST 0", "-ERR no such message")
	c.fail("LIST x", "-ERR invalid message number")
	c.fail("LIST -1", "-ERR invalid message number")
	c.fail("LIST 1 2", "-ERR invalid message number")

	c.ok("UIDL")
	var wantUIDL []string
	for i, u := range uids {
		wantUIDL = append(wantUIDL, fmt.Sprintf("%d %d.%d", i+1, uv, u))
	}
	if got := c.lines(); !slices.Equal(got, wantUIDL) {
		t.Errorf("UIDL = %q, want %q", got, wantUIDL)
	}
	if got, want := c.ok("UIDL 3"), "+OK "+wantUIDL[2]; got != want {
		t.Errorf("UIDL 3 = %q, want %q", got, want)
	}

	for i, r := range raws {
		got := c.ok("RETR " + strconv.Itoa(i+1))
		if want := fmt.Sprintf("+OK %d octets", len(r)); got != want {
			t.Errorf("RETR %d = %q, want %q", i+1, got, want)
		}
		if b := c.body(); !bytes.Equal(b, r) {
			t.Errorf("RETR %d body differs from the stored message:\n got %q\nwant %q", i+1, b, r)
		}
	}
	c.fail("RETR 9", "-ERR no such message")
	c.fail("RETR", "-ERR invalid message number")

	// TOP: header, blank line, n body lines (RFC 1939 7).
	hdr, body, _ := bytes.Cut(raws[0], []byte("\r\n\r\n"))
	hdr = append(hdr, "\r\n\r\n"...)
	bodyLines := bytes.SplitAfter(body, []byte("\r\n"))
	for _, n := range []int{0, 1, 2, 3, 10} {
		c.ok(fmt.Sprintf("TOP 1 %d", n))
		want := slices.Clone(hdr)
		for i := 0; i < n && i < len(bodyLines); i++ {
			want = append(want, bodyLines[i]...)
		}
		if got := c.body(); !bytes.Equal(got, want) {
			t.Errorf("TOP 1 %d:\n got %q\nwant %q", n, got, want)
		}
	}
	c.ok("TOP 3 5")
	if got := c.body(); !bytes.Equal(got, raws[2]) {
		t.Errorf("TOP of a message without body = %q, want %q", got, raws[2])
	}
	c.fail("TOP 1", "-ERR TOP needs")
	c.fail("TOP 1 x", "-ERR invalid line count")
	c.fail("TOP 1 -1", "-ERR invalid line count")
	c.fail("TOP 7 1", "-ERR no such message")

	// DELE marks; marked messages vanish from STAT and LIST and cannot be used.
	if got := c.ok("DELE 2"); got != "+OK message 2 deleted" {
		t.Errorf("DELE 2 = %q", got)
	}
	c.fail("DELE 2", "-ERR message already deleted")
	for _, cmd := range []string{"RETR 2", "LIST 2", "UIDL 2", "TOP 2 0"} {
		c.fail(cmd, "-ERR message already deleted")
	}
	if got, want := c.ok("STAT"), fmt.Sprintf("+OK 2 %d", len(raws[0])+len(raws[2])); got != want {
		t.Errorf("STAT after DELE = %q, want %q", got, want)
	}
	c.ok("LIST")
	if got := c.lines(); !slices.Equal(got, []string{wantList[0], wantList[2]}) {
		t.Errorf("LIST after DELE = %q", got)
	}
	c.ok("UIDL")
	if got := c.lines(); !slices.Equal(got, []string{wantUIDL[0], wantUIDL[2]}) {
		t.Errorf("UIDL after DELE = %q", got)
	}
	// RSET unmarks (RFC 1939 5).
	c.ok("RSET")
	if got, want := c.ok("STAT"), fmt.Sprintf("+OK 3 %d", total); got != want {
		t.Errorf("STAT after RSET = %q, want %q", got, want)
	}
	c.ok("NOOP")
	c.fail("NOOP now", "-ERR this command takes no arguments")
	c.fail("STAT 1", "-ERR this command takes no arguments")
	c.fail("RSET x", "-ERR this command takes no arguments")
	c.ok("DELE 1")
	c.ok("RSET")
	if got := c.ok("QUIT"); !strings.Contains(got, "3 messages left") {
		t.Errorf("QUIT = %q", got)
	}
	c.expectEOF()
	if got := e.inboxUIDs(); !slices.Equal(got, uids) {
		t.Errorf("INBOX after RSET and QUIT = %v, want all of %v", got, uids)
	}
}

func TestEmptyMaildrop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.login()
	if got := c.ok("STAT"); got != "+OK 0 0" {
		t.Errorf("STAT = %q", got)
	}
	c.ok("LIST")
	if got := c.lines(); len(got) != 0 {
		t.Errorf("LIST of an empty maildrop = %q", got)
	}
	c.ok("UIDL")
	if got := c.lines(); len(got) != 0 {
		t.Errorf("UIDL of an empty maildrop = %q", got)
	}
	c.fail("RETR 1", "-ERR no such message")
	if got := c.ok("QUIT"); !strings.Contains(got, "maildrop empty") {
		t.Errorf("QUIT = %q", got)
	}
}

func TestPipelining(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	raws := [][]byte{msg("a", "alpha\n.dot\n"), msg("b", "beta\n")}
	for _, r := range raws {
		e.deliver(r)
	}
	c := e.dial()
	// RFC 2449 6.6: everything in one write; answers must come back in order.
	c.send("CAPA\r\nUSER " + alice + "\r\nPASS " + alicePw + "\r\nSTAT\r\nLIST\r\nRETR 1\r\nBOGUS\r\nRETR 2\r\nDELE 1\r\nUIDL\r\nNOOP\r\nRSET\r\nQUIT\r\n")
	if r := c.line(); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("CAPA: %q", r)
	}
	c.lines()
	for _, want := range []string{"+OK send PASS", "+OK maildrop locked and ready, 2 messages"} {
		if r := c.line(); r != want {
			t.Fatalf("got %q, want %q", r, want)
		}
	}
	if r := c.line(); r != fmt.Sprintf("+OK 2 %d", len(raws[0])+len(raws[1])) {
		t.Errorf("STAT: %q", r)
	}
	c.line()
	if got := len(c.lines()); got != 2 {
		t.Errorf("LIST has %d lines", got)
	}
	c.line()
	if b := c.body(); !bytes.Equal(b, raws[0]) {
		t.Errorf("RETR 1 = %q", b)
	}
	if r := c.line(); r != "-ERR unknown command" {
		t.Errorf("BOGUS: %q", r)
	}
	c.line()
	if b := c.body(); !bytes.Equal(b, raws[1]) {
		t.Errorf("RETR 2 = %q", b)
	}
	if r := c.line(); r != "+OK message 1 deleted" {
		t.Errorf("DELE: %q", r)
	}
	c.line()
	if got := len(c.lines()); got != 1 {
		t.Errorf("UIDL after DELE has %d lines", got)
	}
	for _, want := range []string{"+OK", "+OK maildrop has 2 messages"} {
		if r := c.line(); r != want {
			t.Errorf("got %q, want %q", r, want)
		}
	}
	if r := c.line(); !strings.HasPrefix(r, "+OK") {
		t.Errorf("QUIT: %q", r)
	}
	c.expectEOF()
	if n := len(e.inboxUIDs()); n != 2 {
		t.Errorf("INBOX has %d messages after RSET, want 2", n)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.dial()
	c.fail(strings.Repeat("A", 3*DefaultMaxLine), "-ERR line too long")
	// The connection is still in step: the next command is answered.
	c.ok("CAPA")
	c.lines()
	c.fail("USER", "-ERR USER needs a name")
	c.fail("CAPA\x00", "-ERR unknown command")
	c.fail("\xff\xfe", "-ERR unknown command")
	// A bare LF ends a command too (lenient on input).
	c.send("NOOP x\n")
	if r := c.line(); r != "-ERR command not valid in this state" {
		t.Errorf("bare-LF command: %q", r)
	}
	c.ok("QUIT")
}

func TestTooManyBadCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.dial()
	for range maxBadCommands - 1 {
		c.fail("XYZZY", "-ERR unknown command")
	}
	c.ok("CAPA") // a good command resets the count
	c.lines()
	for range maxBadCommands - 1 {
		c.fail("XYZZY", "-ERR unknown command")
	}
	c.send("XYZZY\r\n")
	rest := c.expectEOF()
	if !strings.Contains(rest, "-ERR unknown command\r\n-ERR too many bad commands") {
		t.Errorf("after %d bad commands got %q", maxBadCommands, rest)
	}
}

func TestUnterminatedLongLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.dial()
	// A line that never ends is cut off rather than read forever.
	junk := strings.Repeat("B", 64*1024)
	go func() {
		for range 100 {
			if _, err := c.nc.Write([]byte(junk)); err != nil {
				return
			}
		}
	}()
	c.expectEOF()
}

package imapwire_test

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"gannet/internal/imapwire"
)

// Example shows the loop a server runs: read a command, parse its arguments
// in grammar order, answer parser errors with their Status and Code, Skip,
// and close on a fatal error.
func Example() {
	in := "a1 LOGIN {5}\r\nalice \"s3cret\"\r\n" +
		"a2 SELECT \"&ZeVnLIqe-\"\r\n" +
		"a3 SELECT (oops {4+}\r\njunk\r\n" +
		"a4 LOGIN {999999}\r\n" +
		"a5 LOGOUT\r\n"
	var out strings.Builder
	bw := bufio.NewWriter(&out)
	w := imapwire.NewWriter(bw)
	r := imapwire.NewReader(bufio.NewReader(strings.NewReader(in)), imapwire.Options{
		MaxLiteral: 1024,
		Continue:   func() error { return w.Continue("Ready for literal data") },
	})
	handle := func(cmd imapwire.Command) error {
		p := cmd.Args
		switch cmd.Name {
		case "LOGIN":
			p.SP()
			user, _ := p.AString()
			p.SP()
			p.AString()
			if err := p.End(); err != nil {
				return err
			}
			return w.Status(cmd.Tag, "OK", "", "LOGIN completed for "+user)
		case "SELECT":
			p.SP()
			name, _ := p.Mailbox()
			if err := p.End(); err != nil {
				return err
			}
			w.Untagged()
			w.Atom("LIST")
			w.Flags(nil)
			w.String("/")
			w.Mailbox(name) // name is UTF-8 here; it goes out in modified UTF-7
			w.CRLF()
			return w.Status(cmd.Tag, "OK", "READ-WRITE", fmt.Sprintf("SELECT %+q completed", name))
		case "LOGOUT":
			if err := p.End(); err != nil {
				return err
			}
			w.Status("", "BYE", "", "bye")
			return w.Status(cmd.Tag, "OK", "", "LOGOUT completed")
		}
		return p.Fail("unknown command")
	}
	for {
		cmd, err := r.ReadCommand()
		if err == nil {
			err = handle(cmd)
		}
		if err != nil {
			var e *imapwire.Error
			if imapwire.IsFatal(err) || !errors.As(err, &e) {
				break // EOF here; otherwise close the connection
			}
			w.Status(e.Tag, e.Status(), e.Code(), e.Text)
			if r.Skip() != nil {
				break
			}
		}
	}
	bw.Flush()
	fmt.Print(strings.ReplaceAll(out.String(), "\r\n", "\n"))
	// Output:
	// + Ready for literal data
	// a1 OK LOGIN completed for alice
	// * LIST () "/" &ZeVnLIqe-
	// a2 OK [READ-WRITE] SELECT "\u65e5\u672c\u8a9e" completed
	// a3 BAD expected string
	// a4 NO [TOOBIG] literal too large
	// * BYE bye
	// a5 OK LOGOUT completed
}

package managesieve

import (
	"bufio"
	"bytes"
	"errors"
	"testing"
)

// FuzzReadCommand: no input makes the command reader panic, loop or read a
// literal over its bound.
func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{
		"CAPABILITY\r\n", "PUTSCRIPT \"a\" {5+}\r\nkeep;\r\n", "AUTHENTICATE \"PLAIN\" \"AGEAYg==\"\r\n",
		"\"x\\\"y\" 12 {0}\r\n\r\n", "{99999999+}\r\n", "A\rB\n", "\"\x00\"\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &conn{srv: &Server{opts: Options{MaxLine: 64, MaxScript: 128}}, r: bufio.NewReader(bytes.NewReader(data))}
		for range len(data) + 1 {
			_, args, err := c.readCommand()
			var se *syntaxError
			if err != nil && !errors.As(err, &se) {
				return
			}
			for _, a := range args {
				if len(a) > 128+64 {
					t.Fatalf("argument of %d octets", len(a))
				}
			}
		}
	})
}

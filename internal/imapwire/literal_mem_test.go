package imapwire

import (
	"strconv"
	"strings"
	"testing"
)

// TestLiteralBufferGrowsWithData: a literal read into memory takes a buffer
// sized by the data that arrived, not by the announced size (issue 13,
// finding 2): a client announcing 1 MB and sending 1 KB before the
// connection fails must not have made the server allocate 1 MB.
func TestLiteralBufferGrowsWithData(t *testing.T) {
	t.Parallel()
	const announced = 1 << 20
	in := "a LOGIN {" + strconv.Itoa(announced) + "+}\r\n" + strings.Repeat("x", 1024)
	r, _ := newReader(in, Options{MaxLiteral: announced})
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Args.SP(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Args.AString(); kindOf(err) != KindIO {
		t.Fatalf("AString over a short literal: %v, want KindIO", err)
	}
	if c := cap(cmd.Args.buf); c > 16<<10 {
		t.Errorf("literal buffer grew to %d octets for 1024 received (announced %d)", c, announced)
	}

	// A complete literal still reads whole, across buffer growth.
	data := strings.Repeat("0123456789abcdef", 40000) // 640,000 octets
	r, _ = newReader("a LOGIN {"+strconv.Itoa(len(data))+"+}\r\n"+data+" x\r\n", Options{MaxLiteral: announced})
	if cmd, err = r.ReadCommand(); err != nil {
		t.Fatal(err)
	}
	cmd.Args.SP()
	got, err := cmd.Args.AString()
	if err != nil || got != data {
		t.Fatalf("AString = %d octets, %v; want %d", len(got), err, len(data))
	}
}

package mailimport_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"gannet/internal/mailimport"
)

// FuzzMbox: any input, in every flavour, ends (no hang), never panics,
// yields CRLF messages within the limits, and reports positions in order.
func FuzzMbox(f *testing.F) {
	f.Add([]byte(muttMbox))
	f.Add([]byte("From a Mon Jan  1 00:00:00 2024\nContent-Length: 9999\n\nx\n\nFrom b Mon Jan  1 00:00:00 2024\nContent-Length: 2\n\nFrom c\n"))
	f.Add([]byte("garbage\n\nFrom - Mon Jan 1 00:00:00 2024\r\nX-Mozilla-Status: 0009\r\n\r\n"))
	f.Add([]byte("From x\n>From y\n>>From z\nFrom w Tue Feb 30 25:61:61 2024\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := mailimport.Limits{MaxSize: 300, MaxLine: 80}
		for _, format := range []mailimport.Format{mailimport.Mboxrd, mailimport.Mboxo, mailimport.Mboxcl, mailimport.Mboxcl2} {
			src := mailimport.NewMbox(bytes.NewReader(data), "fuzz", format, lim)
			last := int64(-1)
			for i := 0; ; i++ {
				if i > len(data)+2 {
					t.Fatalf("%v: more results than input lines", format)
				}
				m, err := src.Next()
				var skip *mailimport.SkipError
				var pos mailimport.Position
				switch {
				case err == io.EOF:
				case errors.As(err, &skip):
					pos = skip.Pos
				case err != nil:
					t.Fatalf("%v: %v", format, err)
				default:
					pos = m.Pos
					if int64(len(m.Raw)) > lim.MaxSize {
						t.Fatalf("%v: message of %d bytes over the limit", format, len(m.Raw))
					}
					if bytes.Contains(bytes.ReplaceAll(m.Raw, []byte("\r\n"), nil), []byte("\n")) {
						t.Fatalf("%v: bare LF in %q", format, m.Raw)
					}
				}
				if err == io.EOF {
					break
				}
				if pos.Offset <= last {
					t.Fatalf("%v: position %d after %d", format, pos.Offset, last)
				}
				last = pos.Offset
			}
		}
	})
}

package imapbench

import (
	"math/rand/v2"
	"strings"
	"time"
)

// vocabulary is the words of generated subjects and bodies, and of the
// SEARCH keys, so that searches find some of the appended messages.
const vocabulary = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima " +
	"mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu " +
	"invoice meeting report budget schedule review draft project release update"

const (
	minMessage = 2048
	// maxMessage stays under 4096 so LITERAL- servers take the APPEND
	// without a round trip too (RFC 7888 3).
	maxMessage = 4000
)

// message returns a plain-text message of 2-4 KB with CRLF line ends.
func message(rng *rand.Rand, words []string, to, id string) []byte {
	size := minMessage + rng.IntN(maxMessage-minMessage-200)
	var b strings.Builder
	b.Grow(size + 200)
	b.WriteString("From: Bench <bench@imapbench.invalid>\r\nTo: <" + to + ">\r\nSubject:")
	for range 3 {
		b.WriteString(" " + words[rng.IntN(len(words))])
	}
	b.WriteString("\r\nDate: " + time.Now().Format(time.RFC1123Z) + "\r\n")
	b.WriteString("Message-ID: <" + id + "@imapbench.invalid>\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	col := 0
	for b.Len() < size {
		w := words[rng.IntN(len(words))]
		if col+len(w) > 72 {
			b.WriteString("\r\n")
			col = 0
		} else if col > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

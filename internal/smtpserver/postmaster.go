package smtpserver

import (
	"bytes"
	"context"
	"strconv"
	"time"
)

// RFC 5321 4.1.1.3 and 4.5.1: "RCPT TO:<Postmaster>", with no domain, MUST be
// accepted. go-smtp's path parser requires an "@" and offers no hook before
// it, so the command is completed below go-smtp, as its bytes arrive: a
// command line that is RCPT TO:<postmaster> (in any case, with or without
// ESMTP parameters) becomes RCPT TO:<postmaster@DOMAIN>, DOMAIN being our
// oldest mail domain, and delivery accepts postmaster@ every local domain.
//
// Only commands are touched, never message content: nothing is rewritten while
// a message is being read (DATA) nor after a DATA command in the same read;
// BDAT chunks are counted and passed over; the filter stops for good at
// STARTTLS (TLS records follow) and at a BDAT line it cannot read. Under
// implicit TLS the bytes below go-smtp are TLS records, so there is no filter;
// after STARTTLS or under implicit TLS a bare postmaster still gets 501, and
// so does one whose line came in two reads. People type it at a plain-text
// telnet prompt, a whole line at a time; MTAs always send a domain.
type pmFilter struct {
	domain    func() string // our oldest domain, "" if none
	lineStart bool          // the next byte starts a line
	skip      int64         // bytes of a BDAT chunk still to pass over
	off       bool
	pending   []byte // filtered bytes that did not fit the caller's buffer
}

func newPMFilter(domain func() string) *pmFilter {
	return &pmFilter{domain: domain, lineStart: true}
}

// filter returns the bytes read, with any bare postmaster completed. busy
// says a message is being read.
func (f *pmFilter) filter(p []byte, busy bool) []byte {
	var out []byte // nil until a line is rewritten
	copied := 0    // p[:copied] is in out
	for i := 0; i < len(p); {
		if f.skip > 0 {
			k := int(min(f.skip, int64(len(p)-i)))
			f.skip -= int64(k)
			i += k
			f.lineStart = f.skip == 0
			continue
		}
		if f.off || busy {
			f.lineStart = p[len(p)-1] == '\n'
			break
		}
		j := bytes.IndexByte(p[i:], '\n')
		start := f.lineStart
		if j < 0 {
			if start && hasPrefixFold(p[i:], "BDAT"[:min(4, len(p)-i)]) {
				// A BDAT line we cannot read yet: its chunk would look like commands.
				f.off = true
			}
			f.lineStart = false
			break
		}
		line := p[i : i+j+1]
		i += j + 1
		f.lineStart = true
		if !start {
			continue
		}
		cmd := bytes.TrimRight(line, "\r\n")
		switch {
		case hasPrefixFold(cmd, "BDAT"):
			n, ok := bdatSize(cmd)
			if !ok {
				f.off = true
				continue
			}
			f.skip = n
		case equalFold(cmd, "STARTTLS"):
			f.off = true
		case equalFold(cmd, "DATA"):
			// Whatever else this read holds is message content sent early.
			f.lineStart = p[len(p)-1] == '\n'
			i = len(p)
		default:
			if at, ok := barePostmaster(cmd); ok {
				if d := f.domain(); d != "" {
					out = append(out, p[copied:i-len(line)+at]...)
					out = append(out, '@')
					out = append(out, d...)
					copied = i - len(line) + at
				}
			}
		}
	}
	if out == nil {
		return p
	}
	return append(out, p[copied:]...)
}

// barePostmaster reports a RCPT command for <postmaster> without a domain,
// and where the "@domain" goes (the offset of its ">").
func barePostmaster(cmd []byte) (int, bool) {
	const verb, path = "RCPT TO:", "<postmaster>"
	if !hasPrefixFold(cmd, verb) {
		return 0, false
	}
	rest := bytes.TrimLeft(cmd[len(verb):], " ")
	if !hasPrefixFold(rest, path) {
		return 0, false
	}
	if after := rest[len(path):]; len(after) > 0 && after[0] != ' ' {
		return 0, false
	}
	return len(cmd) - len(rest) + len(path) - 1, true
}

// bdatSize reads "BDAT <size> [LAST]" (RFC 3030 2).
func bdatSize(cmd []byte) (int64, bool) {
	f := bytes.Fields(cmd)
	if len(f) < 2 || len(f) > 3 || !equalFold(f[0], "BDAT") {
		return 0, false
	}
	n, err := strconv.ParseInt(string(f[1]), 10, 64)
	return n, err == nil && n >= 0
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && equalFold(b[:len(prefix)], prefix)
}

func equalFold(b []byte, s string) bool { return bytes.EqualFold(b, []byte(s)) }

// oldestDomain is the domain a bare postmaster is completed with.
func (s *Server) oldestDomain() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ds, err := s.opts.Store.Domains(ctx)
	if err != nil || len(ds) == 0 {
		return ""
	}
	best := ds[0]
	for _, d := range ds[1:] {
		if d.Created.Before(best.Created) {
			best = d
		}
	}
	return best.Name
}

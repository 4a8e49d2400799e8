package smtpserver

import (
	"context"
	"time"
)

// RFC 5321 4.1.1.3 and 4.5.1: "RCPT TO:<Postmaster>", with no domain, MUST be
// accepted. rcpt completes it with our oldest mail domain, and delivery
// accepts postmaster@ every local domain. Being our own parser, this works the
// same in plain text, after STARTTLS and under implicit TLS.

// oldestDomain is the domain a bare postmaster is completed with, "" if none.
func (s *Server) oldestDomain(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
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

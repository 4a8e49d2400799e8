package smtpserver

import (
	"sync"
	"time"

	"gannet/internal/smtp"
)

// Like Postfix's smtpd, MAIL is refused with 452 4.3.1 while the disk that
// holds the messages has less room than one and a half of the largest message
// we accept (RFC 5321 4.2.2 452; RFC 3463 3.4 X.3.1, "mail system full"). Mail
// then waits in the sender's queue, rather than being refused at
// the end of DATA after the transfer or filling the disk that IMAP needs for
// its own writes too.

// spaceTTL is how long a free-space figure is reused: one statfs a second.
const spaceTTL = time.Second

type spaceCheck struct {
	mu   sync.Mutex
	at   time.Time
	free int64
	err  error
}

// freeSpace returns the free space, measured at most spaceTTL ago.
func (s *Server) freeSpace() (int64, error) {
	c := &s.space
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); c.at.IsZero() || now.Sub(c.at) >= spaceTTL {
		c.free, c.err = s.opts.FreeSpace()
		c.at = now
	}
	return c.free, c.err
}

// checkSpace is the refusal for MAIL when the disk is (nearly) full, or nil.
// A failure to measure does not refuse mail: the write itself would tell.
func (s *Server) checkSpace() *smtp.Reply {
	if s.opts.FreeSpace == nil {
		return nil
	}
	free, err := s.freeSpace()
	if err != nil {
		s.log.Warn("cannot measure free space", "err", err)
		return nil
	}
	if free < s.opts.MaxMessageBytes*3/2 {
		return smtp.InsufficientStorage()
	}
	return nil
}

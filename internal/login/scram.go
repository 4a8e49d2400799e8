package login

import (
	"context"
	"net/netip"

	"gannet/internal/authlimit"
	"gannet/internal/sasl"
	"gannet/internal/store"
)

// SCRAM is one SCRAM-SHA-256 exchange (RFC 5802, RFC 7677) through the
// service: the limiter admits it (and counts it in flight) when the client
// names its user, a wrong proof or unknown user is a failure, a verified
// exchange a success. It implements sasl.Server; it is used by one
// goroutine.
type SCRAM struct {
	sasl.Server
	att  *authlimit.Attempt
	acct *store.Account
}

// SCRAM starts a SCRAM-SHA-256 exchange with a client at ip. answer turns
// each outcome into the protocol's own answer: it is called once, when the
// exchange reaches one (Blocked or Unavailable when the client names its
// user, Wrong at the client's proof, OK once the client has accepted the
// server's signature), and what it returns is what Next returns (nil for OK
// lets the exchange succeed). Malformed messages end the exchange with the
// sasl package's errors, without an answer. Defer Close: it forgets an
// attempt the exchange left unfinished (a client that went away after
// getting its salt).
func (s *Service) SCRAM(ctx context.Context, ip netip.Addr, answer func(Result) error) *SCRAM {
	x := &SCRAM{}
	var hash string
	x.Server = sasl.NewSCRAMLogin(ctx, sasl.SCRAMLogin{
		Secret: s.scramSecret, Store: s.st, Log: s.log,
		Admit: func(user string) error {
			hash = s.UserHash(user)
			att, res := s.begin(ctx, ip, user, hash)
			if att == nil {
				return answer(res)
			}
			x.att = att
			return nil
		},
		StoreErr: func(err error) error {
			x.att.Abandon()
			return answer(Result{Outcome: Unavailable, Err: err, UserHash: hash})
		},
		Failed: func(string) error {
			return answer(Result{Outcome: Wrong, NowBlocked: x.att.Failure(), UserHash: hash})
		},
		Succeeded: func(_ string, a *store.Account) error {
			x.att.Success(a.Address)
			if err := answer(Result{Outcome: OK, Account: a}); err != nil {
				return err
			}
			x.acct = a
			return nil
		},
	})
	return x
}

// Account is the account once the exchange has succeeded, else nil.
func (x *SCRAM) Account() *store.Account { return x.acct }

// Close forgets the attempt if the exchange ended without a verdict.
func (x *SCRAM) Close() { x.att.Abandon() }

package login_test

import (
	"context"
	"errors"
	"net/netip"

	"gannet/internal/authlimit"
	"gannet/internal/login"
	"gannet/internal/store"
)

// reply stands for a protocol's typed reply (here SMTP's).
type reply struct {
	code int
	text string
}

func (r reply) Error() string { return r.text }

// smtpAnswer is how a protocol maps a Result to its own answer: SMTP AUTH
// (RFC 4954 6) answers 535 5.7.8 to wrong credentials and 454 4.7.0 to a
// client it cannot check now; the log gets the Result, never the user name.
func smtpAnswer(res login.Result) error {
	switch res.Outcome {
	case login.OK:
		return nil
	case login.Wrong:
		return reply{535, "5.7.8 Authentication credentials invalid"}
	case login.Blocked:
		return reply{454, "4.7.0 Too many failed logins, try again later"}
	}
	if errors.Is(res.Err, context.Canceled) {
		return reply{421, "4.3.2 Shutting down"}
	}
	return reply{454, "4.7.0 Temporary authentication failure"}
}

// One Service per process, shared by every server; each protocol maps the
// Result to its own answer, for passwords (PLAIN, LOGIN) and SCRAM alike.
func Example() {
	var st store.Store // the process's store
	lim := authlimit.New(authlimit.Config{})
	svc := login.New(st, lim, login.Config{})
	ctx := context.Background()
	ip := netip.MustParseAddr("192.0.2.1")

	// AUTH PLAIN: identity, user and password from the SASL message.
	res := svc.Password(ctx, ip, "", "alice@example.org", "secret")
	if err := smtpAnswer(res); err != nil {
		_ = err // send the reply; log "auth failed", "login", res
	}

	// AUTH SCRAM-SHA-256: the exchange answers through smtpAnswer itself.
	x := svc.SCRAM(ctx, ip, smtpAnswer)
	defer x.Close()
	_ = x // drive x.Next with the client's messages; then x.Account()
}

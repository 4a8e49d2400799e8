package login_test

import (
	"errors"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"gannet/internal/login"
)

// errAnswer is what the test's answer function returns for a refusal.
type errAnswer struct{ r login.Result }

func (e errAnswer) Error() string { return "refused: " + e.r.Outcome.String() }

// scramRun runs a SCRAM-SHA-256 exchange with xdg-go/scram's client against
// x and returns the error that ended it (nil: success). stopAfterFirst leaves
// the exchange after the server's first message, as a client that goes away.
func scramRun(t *testing.T, x *login.SCRAM, user, pw string, stopAfterFirst bool) error {
	t.Helper()
	cl, err := scram.SHA256.NewClient(user, pw, "")
	if err != nil {
		t.Fatal(err)
	}
	cc := cl.NewConversation()
	msg, err := cc.Step("")
	if err != nil {
		t.Fatal(err)
	}
	for step := 0; ; step++ {
		ch, done, err := x.Next([]byte(msg))
		if err != nil || done {
			return err
		}
		if stopAfterFirst {
			return nil
		}
		if msg, err = cc.Step(string(ch)); err != nil {
			t.Fatalf("client step %d: %v", step, err)
		}
	}
}

func TestSCRAM(t *testing.T) {
	t.Parallel()
	lim := fastLimiter()
	svc := login.New(openStore(t, true), lim, login.Config{})
	ip := addr(20)
	var got []login.Result
	answer := func(r login.Result) error {
		got = append(got, r)
		if r.Outcome == login.OK {
			return nil
		}
		return errAnswer{r}
	}
	run := func(user, pw string) (*login.SCRAM, error) {
		x := svc.SCRAM(t.Context(), ip, answer)
		defer x.Close()
		return x, scramRun(t, x, user, pw, false)
	}

	x, err := run(alice, alicePw)
	if err != nil || x.Account() == nil || x.Account().Address != alice {
		t.Fatalf("good SCRAM: %v, account %+v", err, x.Account())
	}
	if len(got) != 1 || got[0].Outcome != login.OK {
		t.Fatalf("answers %+v", got)
	}
	// Wrong password and unknown user fail alike, through answer.
	for i, user := range []string{alice, "nobody@example.org", bob, alice, bob, alice} {
		x, err := run(user, "wrong")
		var ea errAnswer
		if !errors.As(err, &ea) || ea.r.Outcome != login.Wrong || x.Account() != nil {
			t.Fatalf("failure %d (%s): %v", i, user, err)
		}
		if ea.r.UserHash != svc.UserHash(user) {
			t.Errorf("failure %d: user hash %q", i, ea.r.UserHash)
		}
	}
	// The sixth failure blocked the address: the next exchange is refused
	// when the client names its user, whatever its password.
	x, err = run(alice, alicePw)
	var ea errAnswer
	if !errors.As(err, &ea) || ea.r.Outcome != login.Blocked || x.Account() != nil {
		t.Fatalf("SCRAM from a blocked address: %v", err)
	}
}

// TestSCRAMAbandoned: a client that names its user and goes away holds its
// place in flight only until the protocol closes the exchange; it is not a
// failure. While MaxInFlight exchanges from one address are open, another
// waits its turn and then gets Unavailable (ErrBusy), never a check.
func TestSCRAMAbandoned(t *testing.T) {
	t.Parallel()
	lim := fastLimiter()
	svc := login.New(openStore(t, true), lim, login.Config{QueueWait: 50 * time.Millisecond})
	ip := addr(21)
	answer := func(r login.Result) error { return errAnswer{r} }
	var open []*login.SCRAM
	for range 4 {
		x := svc.SCRAM(t.Context(), ip, answer)
		if err := scramRun(t, x, alice, alicePw, true); err != nil {
			t.Fatalf("first message: %v", err)
		}
		open = append(open, x)
	}
	// Four exchanges in flight: a fifth waits, then is turned away.
	x := svc.SCRAM(t.Context(), ip, answer)
	var ea errAnswer
	if err := scramRun(t, x, alice, alicePw, true); !errors.As(err, &ea) || ea.r.Outcome != login.Unavailable || !errors.Is(ea.r.Err, login.ErrBusy) {
		t.Fatalf("fifth exchange in flight: %v", err)
	}
	x.Close()
	for _, x := range open {
		x.Close()
	}
	if d, err := lim.Check(ip, alice); err != nil || d != 0 {
		t.Errorf("after closing the abandoned exchanges: %v %v", d, err)
	}
}

package sasl

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/xdg-go/scram"

	"gannet/internal/password"
)

// scramAccounts is a lookup over a map of address -> keys that records calls.
type scramAccounts struct {
	keys    map[string]password.SCRAMKeys
	err     error // returned by lookup when set
	results []string
	resErr  error // returned by result when set
}

func (a *scramAccounts) lookup(u string) (password.SCRAMKeys, bool, error) {
	if a.err != nil {
		return password.SCRAMKeys{}, false, a.err
	}
	k, ok := a.keys[strings.ToLower(u)]
	return k, ok, nil
}

func (a *scramAccounts) result(u string, ok bool) error {
	if ok {
		a.results = append(a.results, "ok "+u)
	} else {
		a.results = append(a.results, "fail "+u)
	}
	return a.resErr
}

func newAccounts(t *testing.T, users map[string]string) *scramAccounts {
	t.Helper()
	a := &scramAccounts{keys: map[string]password.SCRAMKeys{}}
	for u, pw := range users {
		k, err := password.NewSCRAMKeys(pw)
		if err != nil {
			t.Fatal(err)
		}
		// Through the stored encoding, as the protocols get them.
		if k, err = password.UnmarshalSCRAM(k.Marshal()); err != nil {
			t.Fatal(err)
		}
		a.keys[u] = k
	}
	return a
}

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// scramRun drives a whole exchange with xdg-go/scram's client. It returns the
// server-first message, the client conversation and the server's last error.
func scramRun(t *testing.T, srv Server, user, pw, authz string, useIR bool) (string, *scram.ClientConversation, error) {
	t.Helper()
	cl, err := scram.SHA256.NewClient(user, pw, authz)
	if err != nil {
		t.Fatal(err)
	}
	cc := cl.NewConversation()
	c1, err := cc.Step("")
	if err != nil {
		t.Fatal(err)
	}
	if !useIR {
		ch, done, err := srv.Next(nil)
		if err != nil || done || len(ch) != 0 {
			t.Fatalf("no initial response: %q %v %v", ch, done, err)
		}
	}
	s1, done, err := srv.Next([]byte(c1))
	if err != nil || done {
		return "", cc, err
	}
	c2, err := cc.Step(string(s1))
	if err != nil {
		t.Fatalf("client final: %v", err)
	}
	s2, done, err := srv.Next([]byte(c2))
	if err != nil {
		if !done {
			t.Error("error without done")
		}
		return string(s1), cc, err
	}
	if done {
		t.Fatal("done before the server-final challenge")
	}
	if _, err := cc.Step(string(s2)); err != nil {
		t.Fatalf("client rejects server signature %q: %v", s2, err)
	}
	ch, done, err := srv.Next([]byte{})
	if !done || len(ch) != 0 {
		t.Fatalf("after ack: %q done=%v err=%v", ch, done, err)
	}
	return string(s1), cc, err
}

func TestSCRAMSuccess(t *testing.T) {
	t.Parallel()
	for _, ir := range []bool{true, false} {
		a := newAccounts(t, map[string]string{"alice@example.org": "correct horse"})
		srv := NewSCRAMSHA256(testSecret, a.lookup, a.result)
		_, cc, err := scramRun(t, srv, "alice@example.org", "correct horse", "", ir)
		if err != nil {
			t.Fatalf("ir=%v: %v", ir, err)
		}
		if !cc.Valid() {
			t.Errorf("ir=%v: client did not verify the server", ir)
		}
		if len(a.results) != 1 || a.results[0] != "ok alice@example.org" {
			t.Errorf("ir=%v: results %q", ir, a.results)
		}
		if _, _, err := srv.Next([]byte("again")); !errors.Is(err, ErrMalformed) {
			t.Errorf("after done: %v", err)
		}
	}
	// An authorization identity equal to the user is fine.
	a := newAccounts(t, map[string]string{"alice@example.org": "pw"})
	if _, _, err := scramRun(t, NewSCRAMSHA256(testSecret, a.lookup, a.result),
		"alice@example.org", "pw", "Alice@example.org", true); err != nil {
		t.Fatalf("own authzid: %v", err)
	}
}

// TestSCRAMResultOnlyAfterAck: the protocol learns of success only when the
// client accepted the server's signature; a result error fails the exchange.
func TestSCRAMResultOnlyAfterAck(t *testing.T) {
	t.Parallel()
	a := newAccounts(t, map[string]string{"bob@example.org": "pw"})
	srv := NewSCRAMSHA256(testSecret, a.lookup, a.result)
	cl, _ := scram.SHA256.NewClient("bob@example.org", "pw", "")
	cc := cl.NewConversation()
	c1, _ := cc.Step("")
	s1, _, _ := srv.Next([]byte(c1))
	c2, _ := cc.Step(string(s1))
	s2, done, err := srv.Next([]byte(c2))
	if err != nil || done || !bytes.HasPrefix(s2, []byte("v=")) {
		t.Fatalf("server-final: %q %v %v", s2, done, err)
	}
	if len(a.results) != 0 {
		t.Fatalf("result before the ack: %q", a.results)
	}
	// A non-empty acknowledgement is malformed and is no success.
	if _, done, err := srv.Next([]byte("x")); !done || !errors.Is(err, ErrMalformed) || len(a.results) != 0 {
		t.Fatalf("bad ack: %v %v %q", done, err, a.results)
	}

	gone := errors.New("account deleted")
	a = newAccounts(t, map[string]string{"bob@example.org": "pw"})
	a.resErr = gone
	if _, _, err := scramRun(t, NewSCRAMSHA256(testSecret, a.lookup, a.result),
		"bob@example.org", "pw", "", true); !errors.Is(err, gone) {
		t.Fatalf("result error: %v", err)
	}
}

func TestSCRAMWrongPassword(t *testing.T) {
	t.Parallel()
	a := newAccounts(t, map[string]string{"alice@example.org": "correct horse"})
	_, _, err := scramRun(t, NewSCRAMSHA256(testSecret, a.lookup, a.result),
		"alice@example.org", "wrong horse", "", true)
	if !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("err %v, want ErrAuthFailed", err)
	}
	if len(a.results) != 1 || a.results[0] != "fail alice@example.org" {
		t.Fatalf("results %q", a.results)
	}
	// The protocol's own failure reply replaces ErrAuthFailed.
	reply := errors.New("535 5.7.8")
	a.resErr = reply
	if _, _, err := scramRun(t, NewSCRAMSHA256(testSecret, a.lookup, a.result),
		"alice@example.org", "wrong", "", true); !errors.Is(err, reply) {
		t.Fatalf("err %v, want the result's", err)
	}
}

// TestSCRAMOtherAuthzid: Gannet has no proxy authorization, so the right
// password with someone else's authorization identity fails and counts.
func TestSCRAMOtherAuthzid(t *testing.T) {
	t.Parallel()
	a := newAccounts(t, map[string]string{"alice@example.org": "pw", "bob@example.org": "pw2"})
	_, _, err := scramRun(t, NewSCRAMSHA256(testSecret, a.lookup, a.result),
		"alice@example.org", "pw", "bob@example.org", true)
	if !errors.Is(err, ErrAuthFailed) || len(a.results) != 1 || a.results[0] != "fail alice@example.org" {
		t.Fatalf("err %v results %q", err, a.results)
	}
}

// serverFirstFields parses "r=...,s=...,i=..." into its salt and iterations.
func serverFirstFields(t *testing.T, s1 string) (salt, iter string) {
	t.Helper()
	f := strings.Split(s1, ",")
	if len(f) != 3 || !strings.HasPrefix(f[1], "s=") || !strings.HasPrefix(f[2], "i=") {
		t.Fatalf("server-first %q", s1)
	}
	return f[1], f[2]
}

// TestSCRAMUnknownUser: an unknown user gets a server-first message of the
// same shape as a real one, stable for the name (and its case variants),
// different for another name and for another secret, and fails like a wrong
// password.
func TestSCRAMUnknownUser(t *testing.T) {
	t.Parallel()
	a := newAccounts(t, map[string]string{"alice@example.org": "pw"})
	first := func(secret []byte, user string) (string, string) {
		t.Helper()
		a.results = nil
		s1, _, err := scramRun(t, NewSCRAMSHA256(secret, a.lookup, a.result), user, "pw", "", true)
		if !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("%s: err %v, want ErrAuthFailed", user, err)
		}
		if len(a.results) != 1 || a.results[0] != "fail "+user {
			t.Fatalf("%s: results %q", user, a.results)
		}
		return serverFirstFields(t, s1)
	}
	salt1, iter1 := first(testSecret, "mallory@example.org")
	salt2, _ := first(testSecret, "mallory@example.org")
	salt3, _ := first(testSecret, "MALLORY@example.org")
	other, _ := first(testSecret, "trent@example.org")
	rekeyed, _ := first([]byte("another secret of 32 bytes......"), "mallory@example.org")
	if salt1 != salt2 || salt1 != salt3 {
		t.Errorf("unstable fake salt: %s %s %s", salt1, salt2, salt3)
	}
	if salt1 == other || salt1 == rekeyed {
		t.Errorf("fake salt does not depend on name and secret: %s %s %s", salt1, other, rekeyed)
	}
	// Same shape as a real account's: 16-byte salt, same iteration count.
	realS1, _, err := scramRun(t, NewSCRAMSHA256(testSecret, a.lookup, a.result), "alice@example.org", "pw", "", true)
	if err != nil {
		t.Fatal(err)
	}
	realSalt, realIter := serverFirstFields(t, realS1)
	if len(realSalt) != len(salt1) || realIter != iter1 {
		t.Errorf("real %s %s vs fake %s %s", realSalt, realIter, salt1, iter1)
	}
}

func TestSCRAMChannelBinding(t *testing.T) {
	t.Parallel()
	a := newAccounts(t, map[string]string{"alice@example.org": "pw"})
	// A client that requires binding is refused (RFC 5802 6).
	srv := NewSCRAMSHA256(testSecret, a.lookup, a.result)
	_, done, err := srv.Next([]byte("p=tls-exporter,,n=alice@example.org,r=abcdefgh"))
	if !done || !errors.Is(err, ErrChannelBinding) || len(a.results) != 0 {
		t.Fatalf("p flag: done=%v err=%v results=%q", done, err, a.results)
	}
	// "y": the client supports binding and saw no -PLUS offered: fine.
	srv = NewSCRAMSHA256(testSecret, a.lookup, a.result)
	s1, done, err := srv.Next([]byte("y,,n=alice@example.org,r=abcdefgh"))
	if err != nil || done || !bytes.HasPrefix(s1, []byte("r=abcdefgh")) {
		t.Fatalf("y flag: %q %v %v", s1, done, err)
	}
}

func TestSCRAMMalformedAndLookupError(t *testing.T) {
	t.Parallel()
	a := newAccounts(t, map[string]string{"alice@example.org": "pw"})
	for _, m := range []string{"", "garbage", "n,,n=alice,", "x,,n=alice,r=abc", "n,,n=al=ice,r=abc",
		"n,,m=ext,n=alice,r=abc"} {
		srv := NewSCRAMSHA256(testSecret, a.lookup, a.result)
		if _, done, err := srv.Next([]byte(m)); !done || !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: done=%v err=%v", m, done, err)
		}
	}
	if len(a.results) != 0 {
		t.Errorf("malformed first messages counted: %q", a.results)
	}
	// A garbled final message after a salt was handed out counts as a failure.
	srv := NewSCRAMSHA256(testSecret, a.lookup, a.result)
	if _, _, err := srv.Next([]byte("n,,n=alice@example.org,r=abc")); err != nil {
		t.Fatal(err)
	}
	if _, done, err := srv.Next([]byte("c=biws,r=wrong,p=AAAA")); !done || !errors.Is(err, ErrAuthFailed) ||
		len(a.results) != 1 {
		t.Errorf("bad final: done=%v err=%v results=%q", done, err, a.results)
	}

	blocked := errors.New("blocked")
	a = newAccounts(t, nil)
	a.err = blocked
	srv = NewSCRAMSHA256(testSecret, a.lookup, a.result)
	if _, done, err := srv.Next([]byte("n,,n=alice@example.org,r=abc")); !done || !errors.Is(err, blocked) {
		t.Fatalf("lookup error: done=%v err=%v", done, err)
	}
	if len(a.results) != 0 {
		t.Errorf("lookup error counted: %q", a.results)
	}
}

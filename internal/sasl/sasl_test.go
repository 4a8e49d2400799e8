package sasl

import (
	"errors"
	"testing"
)

type rec struct{ id, user, pass string }

func recorder(r *rec, err error) Authenticator {
	return func(id, user, pass string) error {
		*r = rec{id, user, pass}
		return err
	}
}

func TestPlain(t *testing.T) {
	t.Parallel()
	var r rec
	s := NewPlain(recorder(&r, nil))
	ch, done, err := s.Next(nil)
	if err != nil || done || len(ch) != 0 {
		t.Fatalf("no initial response: %q %v %v", ch, done, err)
	}
	_, done, err = s.Next([]byte("admin\x00alice@example.org\x00secret"))
	if err != nil || !done || r != (rec{"admin", "alice@example.org", "secret"}) {
		t.Fatalf("got %+v done=%v err=%v", r, done, err)
	}
	bad := errors.New("bad password")
	s = NewPlain(recorder(&r, bad))
	if _, done, err := s.Next([]byte("\x00bob\x00wrong")); !done || !errors.Is(err, bad) {
		t.Fatalf("wrong password: done=%v err=%v", done, err)
	}
	for _, m := range []string{"", "no-nul", "a\x00b", "a\x00\x00pw", "a\x00b\x00c\x00d"} {
		if _, _, err := NewPlain(recorder(&r, nil)).Next([]byte(m)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err %v, want ErrMalformed", m, err)
		}
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	var r rec
	s := NewLogin(recorder(&r, nil))
	ch, done, err := s.Next(nil)
	if string(ch) != "Username:" || done || err != nil {
		t.Fatalf("step 0: %q %v %v", ch, done, err)
	}
	ch, done, err = s.Next([]byte("carol@example.org"))
	if string(ch) != "Password:" || done || err != nil {
		t.Fatalf("step 1: %q %v %v", ch, done, err)
	}
	_, done, err = s.Next([]byte("pw"))
	if !done || err != nil || r != (rec{"", "carol@example.org", "pw"}) {
		t.Fatalf("step 2: %+v %v %v", r, done, err)
	}
	if _, _, err := s.Next([]byte("more")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("after done: %v", err)
	}
	// Initial response carries the username.
	s = NewLogin(recorder(&r, nil))
	if ch, _, _ := s.Next([]byte("dave")); string(ch) != "Password:" {
		t.Fatalf("initial response: challenge %q", ch)
	}
	if _, done, err := s.Next([]byte("pw2")); !done || err != nil || r.user != "dave" {
		t.Fatalf("initial response flow: %+v %v", r, err)
	}
	// Empty username is malformed.
	s = NewLogin(recorder(&r, nil))
	s.Next(nil)
	if _, _, err := s.Next([]byte{}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("empty username: %v", err)
	}
}

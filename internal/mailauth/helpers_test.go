package mailauth_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"gannet/internal/mailauth"
	"gannet/internal/mailauth/mailauthtest"
)

const hostname = "mx.gannet.test"

// msg builds a CRLF message from header lines and a body.
func msg(body string, header ...string) []byte {
	return []byte(strings.Join(header, "\r\n") + "\r\n\r\n" + strings.ReplaceAll(body, "\n", "\r\n"))
}

// plain is a message from alice@<fromDomain>.
func plain(fromDomain string) []byte {
	return msg("Hello Bob.\nSee you.\n",
		"From: Alice <alice@"+fromDomain+">",
		"To: bob@gannet.test",
		"Subject: lunch",
		"Date: Mon, 02 Mar 2026 10:00:00 +0000",
		"Message-ID: <1@"+fromDomain+">",
	)
}

func newChecker(t *testing.T, r *mailauthtest.Resolver, rnd func(int) int) *mailauth.Checker {
	t.Helper()
	c, err := mailauth.New(mailauth.Options{Resolver: r, Hostname: hostname, Rand: rnd})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// edKey returns a fresh Ed25519 key under selector sel.
func edKey(t *testing.T, sel string) mailauth.Key {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return mailauth.Key{Selector: sel, Signer: k}
}

// publish puts the keys' DKIM records for domain into the zone.
func publish(t *testing.T, r *mailauthtest.Resolver, domain string, keys ...mailauth.Key) {
	t.Helper()
	for _, k := range keys {
		txt, err := mailauth.KeyRecord(k.Signer.Public())
		if err != nil {
			t.Fatal(err)
		}
		r.AddTXT(k.Selector+"._domainkey."+domain, txt)
	}
}

// sign signs raw as domain with keys.
func sign(t *testing.T, raw []byte, domain string, keys ...mailauth.Key) []byte {
	t.Helper()
	s, err := mailauth.NewSigner(domain, keys...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Sign(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func month() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) }

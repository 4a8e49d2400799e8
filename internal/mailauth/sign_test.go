package mailauth_test

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"gannet/internal/mailauth"
	"gannet/internal/mailauth/mailauthtest"
)

// TestSignWithBothKeys is issue 7's "verified by go-msgauth as DKIM-valid
// with both keys": generated keys, records from DNSRecords, go-msgauth's own
// verifier reading them.
func TestSignWithBothKeys(t *testing.T) {
	t.Parallel()
	keys, err := mailauth.GenerateKeys(month())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Selector != "gannet-ed25519-202603" || keys[1].Selector != "gannet-rsa-202603" {
		t.Fatalf("keys %+v", keys)
	}
	if _, ok := keys[0].Signer.(ed25519.PrivateKey); !ok {
		t.Errorf("first key is %T", keys[0].Signer)
	}
	if k, ok := keys[1].Signer.(*rsa.PrivateKey); !ok || k.N.BitLen() != 2048 {
		t.Errorf("second key is %T, want 2048-bit RSA", keys[1].Signer)
	}
	records, err := mailauth.DNSRecords(mailauth.DNSConfig{Domain: "example.com", Host: "mail.example.com", Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	txt := map[string]string{}
	for _, r := range records {
		if r.Type == "TXT" {
			txt[r.Name] = unquoteTXT(t, r.Data)
		}
	}
	signed := sign(t, plain("example.com"), "example.com", keys...)
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(signed), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if v, ok := txt[name+"."]; ok {
				return []string{v}, nil
			}
			t.Errorf("unexpected lookup %s", name)
			return nil, mailauth.ErrNotFound
		},
	})
	if err != nil || len(verifs) != 2 {
		t.Fatalf("verify: %d verifications, %v", len(verifs), err)
	}
	for _, v := range verifs {
		if v.Err != nil || v.Domain != "example.com" {
			t.Errorf("verification %+v", v)
		}
		if strings.Count(strings.ToLower(strings.Join(v.HeaderKeys, ":")), "from") != 2 {
			t.Errorf("From not oversigned: h=%v", v.HeaderKeys)
		}
	}
	// The same through our Checker.
	r := &mailauthtest.Resolver{}
	for name, v := range txt {
		r.AddTXT(name, v)
	}
	got := newChecker(t, r, nil).DKIM(t.Context(), signed)
	if len(got) != 2 || got[0].Status != mailauth.Pass || got[1].Status != mailauth.Pass ||
		got[0].Algorithm != "ed25519-sha256" || got[1].Algorithm != "rsa-sha256" {
		t.Errorf("Checker.DKIM = %+v", got)
	}
}

func TestSignHeaderList(t *testing.T) {
	t.Parallel()
	k := edKey(t, "s")
	raw := msg("x\n",
		"Received: from somewhere",
		"From: a@example.com",
		"To: b@example.org",
		"To: c@example.org",
		"Subject: s",
		"X-Mailer: y",
	)
	signed := sign(t, raw, "example.com", k)
	if !bytes.HasSuffix(signed, raw) {
		t.Fatal("message not kept intact after the signature")
	}
	fieldEnd := bytes.Index(signed, []byte("\r\nReceived:"))
	sig := strings.ReplaceAll(string(signed[:fieldEnd]), "\r\n", "")
	for _, want := range []string{"c=relaxed/relaxed", "d=example.com", "s=s", "a=ed25519-sha256", "h=From:From:To:To:Subject;"} {
		if !strings.Contains(strings.Join(strings.Fields(sig), ""), strings.ReplaceAll(want, " ", "")) {
			t.Errorf("signature %q lacks %q", sig, want)
		}
	}
	s, _ := mailauth.NewSigner("example.com", k)
	if _, err := s.Sign(msg("x\n", "Subject: no from")); err == nil {
		t.Error("signed a message without From")
	}
}

func TestNewSignerRejects(t *testing.T) {
	t.Parallel()
	k := edKey(t, "s")
	for name, f := range map[string]func() error{
		"no keys":     func() error { _, err := mailauth.NewSigner("example.com"); return err },
		"no selector": func() error { _, err := mailauth.NewSigner("example.com", mailauth.Key{Signer: k.Signer}); return err },
		"no domain":   func() error { _, err := mailauth.NewSigner("", k); return err },
		"no signer":   func() error { _, err := mailauth.NewSigner("example.com", mailauth.Key{Selector: "s"}); return err },
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestKeyPEMRoundTrip(t *testing.T) {
	t.Parallel()
	for _, alg := range []mailauth.Algorithm{mailauth.Ed25519, mailauth.RSA} {
		k, err := mailauth.GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		pemBytes, err := mailauth.MarshalKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(pemBytes, []byte("-----BEGIN PRIVATE KEY-----\n")) {
			t.Errorf("%s: PEM %q", alg, pemBytes[:40])
		}
		back, err := mailauth.ParseKey(pemBytes)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		type equaler interface{ Equal(crypto.PrivateKey) bool }
		if !back.(equaler).Equal(k) {
			t.Errorf("%s: key changed in the round trip", alg)
		}
		if got := (mailauth.Key{Selector: "s", Signer: back}).Algorithm(); got != alg {
			t.Errorf("Algorithm() = %q, want %q", got, alg)
		}
	}
	for _, bad := range []string{"", "not pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"} {
		if _, err := mailauth.ParseKey([]byte(bad)); err == nil {
			t.Errorf("ParseKey(%q) succeeded", bad)
		}
	}
	if _, err := mailauth.GenerateKey("dsa"); err == nil {
		t.Error("GenerateKey(dsa) succeeded")
	}
}

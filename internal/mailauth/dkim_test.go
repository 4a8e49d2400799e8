package mailauth_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"gannet/internal/mailauth"
	"gannet/internal/mailauth/mailauthtest"
)

func TestDKIM(t *testing.T) {
	t.Parallel()
	r := &mailauthtest.Resolver{}
	good := edKey(t, "good")
	publish(t, r, "signer.test", good)
	unpublished := edKey(t, "missing")
	flaky := edKey(t, "flaky")
	r.Fail("flaky._domainkey.signer.test")
	revoked := edKey(t, "revoked")
	r.AddTXT("revoked._domainkey.signer.test", "v=DKIM1; k=ed25519; p=")
	wrong := edKey(t, "wrong")
	publish(t, r, "signer.test", mailauth.Key{Selector: "wrong", Signer: edKey(t, "x").Signer})

	signed := sign(t, plain("signer.test"), "signer.test", good)
	c := newChecker(t, r, nil)
	for _, tc := range []struct {
		name   string
		raw    []byte
		want   []mailauth.Status
		reason string // substring of the first result's error
	}{
		{"unsigned", plain("signer.test"), nil, ""},
		{"good", signed, []mailauth.Status{mailauth.Pass}, ""},
		{"body altered", bytes.Replace(signed, []byte("See you."), []byte("Send money."), 1),
			[]mailauth.Status{mailauth.Fail}, "body hash"},
		{"subject altered", bytes.Replace(signed, []byte("Subject: lunch"), []byte("Subject: dinner"), 1),
			[]mailauth.Status{mailauth.Fail}, "signature did not verify"},
		{"added From (oversigned)", append([]byte("From: mallory@evil.test\r\n"), signed...),
			[]mailauth.Status{mailauth.Fail}, "signature did not verify"},
		{"relaxed survives refolding", bytes.Replace(signed, []byte("Subject: lunch"), []byte("Subject:   lunch \r\n "), 1),
			[]mailauth.Status{mailauth.Pass}, ""},
		{"missing key", sign(t, plain("signer.test"), "signer.test", unpublished),
			[]mailauth.Status{mailauth.PermError}, "no key"},
		{"key lookup fails", sign(t, plain("signer.test"), "signer.test", flaky),
			[]mailauth.Status{mailauth.TempError}, "key unavailable"},
		{"revoked key", sign(t, plain("signer.test"), "signer.test", revoked),
			[]mailauth.Status{mailauth.PermError}, "revoked"},
		{"wrong key published", sign(t, plain("signer.test"), "signer.test", wrong),
			[]mailauth.Status{mailauth.Fail}, "signature did not verify"},
		{"malformed signature", append([]byte("DKIM-Signature: v=1; a=ed25519-sha256; d=signer.test\r\n"), plain("signer.test")...),
			[]mailauth.Status{mailauth.PermError}, "missing required tag"},
		{"good and missing", sign(t, signed, "signer.test", unpublished),
			[]mailauth.Status{mailauth.PermError, mailauth.Pass}, "no key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := c.DKIM(context.Background(), tc.raw)
			var statuses []mailauth.Status
			for _, g := range got {
				statuses = append(statuses, g.Status)
			}
			if fmt.Sprint(statuses) != fmt.Sprint(tc.want) {
				t.Fatalf("statuses %v, want %v (results %+v)", statuses, tc.want, got)
			}
			if tc.reason != "" && (got[0].Err == nil || !strings.Contains(got[0].Err.Error(), tc.reason)) {
				t.Errorf("error %v, want it to mention %q", got[0].Err, tc.reason)
			}
			for _, g := range got {
				if g.Status == mailauth.Pass && g.Err != nil {
					t.Errorf("pass with error %v", g.Err)
				}
			}
		})
	}
}

func TestDKIMReportsSignatureFields(t *testing.T) {
	t.Parallel()
	r := &mailauthtest.Resolver{}
	k := edKey(t, "sel1")
	publish(t, r, "Signer.TEST", k)
	got := newChecker(t, r, nil).DKIM(context.Background(), sign(t, plain("signer.test"), "Signer.TEST", k))
	if len(got) != 1 {
		t.Fatalf("%d results", len(got))
	}
	g := got[0]
	if g.Status != mailauth.Pass || g.Domain != "signer.test" || g.Selector != "sel1" || g.Algorithm != "ed25519-sha256" || len(g.Signature) < 80 {
		t.Errorf("result %+v", g)
	}
}

// TestDKIMAtMostFiveSignatures checks RFC 6376 6.1's limit as issue 7 sets
// it: a sixth signature is not even looked up.
func TestDKIMAtMostFiveSignatures(t *testing.T) {
	t.Parallel()
	r := &mailauthtest.Resolver{}
	raw := plain("signer.test")
	var keys []mailauth.Key
	for i := range 6 {
		keys = append(keys, edKey(t, fmt.Sprintf("s%d", i)))
	}
	publish(t, r, "signer.test", keys...)
	// Sign one key at a time, so the header lists s5 first, then s4, ...
	for _, k := range keys {
		raw = sign(t, raw, "signer.test", k)
	}
	got := newChecker(t, r, nil).DKIM(context.Background(), raw)
	if len(got) != mailauth.MaxSignatures {
		t.Fatalf("%d results, want %d", len(got), mailauth.MaxSignatures)
	}
	for i, g := range got {
		if want := fmt.Sprintf("s%d", 5-i); g.Selector != want || g.Status != mailauth.Pass {
			t.Errorf("result %d: %s %s, want pass %s", i, g.Selector, g.Status, want)
		}
	}
	for _, q := range r.Queries() {
		if q == "TXT s0._domainkey.signer.test" {
			t.Errorf("the sixth signature's key was looked up")
		}
	}
}

func TestDKIMHeaderWithoutBody(t *testing.T) {
	t.Parallel()
	raw := []byte("DKIM-Signature: v=1; a=ed25519-sha256; d=x.test; s=s; h=from; bh=; b=\r\nFrom: a@x.test\r\n")
	got := newChecker(t, &mailauthtest.Resolver{}, nil).DKIM(context.Background(), raw)
	if len(got) != 1 || got[0].Status != mailauth.PermError {
		t.Errorf("results %+v, want one permerror", got)
	}
}

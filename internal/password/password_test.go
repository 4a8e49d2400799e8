package password

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	t.Parallel()
	p := TestParams()
	for _, pw := range []string{"pencil", "correct horse battery staple", "pässwörd", "密码", " spaced "} {
		enc, err := p.Hash(pw)
		if err != nil {
			t.Fatalf("Hash(%q): %v", pw, err)
		}
		if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Errorf("Hash(%q) = %q: unexpected prefix", pw, enc)
		}
		if ok, err := Verify(enc, pw); !ok || err != nil {
			t.Errorf("Verify(%q, right) = %v, %v", enc, ok, err)
		}
		if ok, err := Verify(enc, pw+"x"); ok || err != nil {
			t.Errorf("Verify(%q, wrong) = %v, %v", enc, ok, err)
		}
	}
}

func TestHashDefaultParams(t *testing.T) {
	t.Parallel()
	enc, err := Hash("pencil")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("Hash = %q, want OWASP parameters", enc)
	}
	if ok, err := Verify(enc, "pencil"); !ok || err != nil {
		t.Errorf("Verify = %v, %v", ok, err)
	}
	if NeedsRehash(enc, DefaultParams()) {
		t.Error("NeedsRehash(default hash, DefaultParams) = true")
	}
	if !NeedsRehash(enc, TestParams()) {
		t.Error("NeedsRehash(default hash, TestParams) = false")
	}
	if !NeedsRehash("garbage", DefaultParams()) {
		t.Error("NeedsRehash(garbage) = false")
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	t.Parallel()
	a, _ := TestParams().Hash("pencil")
	b, _ := TestParams().Hash("pencil")
	if a == b {
		t.Errorf("two hashes of the same password are equal: %q", a)
	}
}

// TestVerifyKnownVector checks interoperability with the argon2 reference
// implementation: password "password", salt "somesalt", t=2, m=64, p=1, 24-byte
// tag 068d62b2... (the vector golang.org/x/crypto/argon2 tests against), written
// as a PHC string.
func TestVerifyKnownVector(t *testing.T) {
	t.Parallel()
	const enc = "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3"
	if ok, err := Verify(enc, "password"); !ok || err != nil {
		t.Errorf("Verify(reference vector) = %v, %v", ok, err)
	}
	if ok, err := Verify(enc, "Password"); ok || err != nil {
		t.Errorf("Verify(reference vector, wrong) = %v, %v", ok, err)
	}
}

// TestNormalization: RFC 8265 OpaqueString maps non-ASCII spaces to U+0020 and
// applies NFC, so canonically equivalent spellings are the same password.
func TestNormalization(t *testing.T) {
	t.Parallel()
	enc, err := TestParams().Hash("caf\u00e9\u00a0au lait") // precomposed é, no-break space
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Verify(enc, "cafe\u0301 au lait"); !ok || err != nil { // e + combining acute
		t.Errorf("Verify(decomposed) = %v, %v", ok, err)
	}
	for _, bad := range []string{"", "a\x00b", "tab\there", "bell\a"} {
		if _, err := TestParams().Hash(bad); !errors.Is(err, ErrInvalidPassword) {
			t.Errorf("Hash(%q) error = %v, want ErrInvalidPassword", bad, err)
		}
		if _, err := NewSCRAMKeys(bad); !errors.Is(err, ErrInvalidPassword) {
			t.Errorf("NewSCRAMKeys(%q) error = %v, want ErrInvalidPassword", bad, err)
		}
		if ok, err := Verify(enc, bad); ok || err != nil {
			t.Errorf("Verify(%q) = %v, %v; want false, nil", bad, ok, err)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	t.Parallel()
	good, err := TestParams().Hash("pencil")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	salt, hash := parts[4], parts[5]
	for _, enc := range []string{
		"",
		"$",
		"pencil",
		"$argon2id$",
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + hash,
		"$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + hash,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + hash,
		"$argon2id$m=64,t=1,p=1$" + salt + "$" + hash, // version omitted (= 0x10)
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + hash,
		"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + hash,
		"$argon2id$v=19$m=64,t=1,p=1,k=x$" + salt + "$" + hash,
		"$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + hash,
		"$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + hash,
		"$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + hash,
		"$argon2id$v=19$m=,t=1,p=1$" + salt + "$" + hash,
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + hash,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + hash,
		"$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + hash,
		"$argon2id$v=19$m=4,t=1,p=1$" + salt + "$" + hash, // m < 8p
		"$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + hash,
		"$argon2id$v=19$m=99999999999,t=1,p=1$" + salt + "$" + hash,
		"$argon2id$v=19$m=64,t=1000000,p=1$" + salt + "$" + hash,
		"$argon2id$v=19$m=64,t=1,p=1$$" + hash,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + hash, // padding
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + hash + "$",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + hash,    // 4-byte salt
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA", // 3-byte hash
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + hash[:len(hash)-1] + "!",
		"x$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + hash,
	} {
		ok, err := Verify(enc, "pencil")
		if ok || !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformed", enc, ok, err)
		}
	}
}

func TestParamsRejected(t *testing.T) {
	t.Parallel()
	for _, p := range []Params{
		{},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8},
		{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 7, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 2 << 20, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
	} {
		if enc, err := p.Hash("pencil"); err == nil {
			t.Errorf("%+v.Hash = %q, want error", p, enc)
		}
	}
}

// FuzzVerify: no input may panic, and an error is always ErrMalformed.
func FuzzVerify(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3", "password")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$", "")
	f.Fuzz(func(t *testing.T, enc, pw string) {
		if _, err := Verify(enc, pw); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("Verify(%q) error %v does not wrap ErrMalformed", enc, err)
		}
	})
}

// RFC 7677 section 3 example exchange.
const (
	rfc7677Salt        = "W22ZaJ0SNY7soEsUEjb6gQ=="
	rfc7677ClientFirst = "n=user,r=rOprNGfwEbeRWgbNEkqO"
	rfc7677ServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	rfc7677ClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	rfc7677Proof       = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	rfc7677ServerSig   = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
)

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSCRAMRFC7677 derives the keys for "pencil" with the example's salt and
// checks them against the example exchange the way a server would: the client
// proof must recover a ClientKey whose hash is StoredKey (RFC 5802 section 3),
// and ServerKey must produce the example's server signature "v=".
func TestSCRAMRFC7677(t *testing.T) {
	t.Parallel()
	k, err := deriveSCRAM("pencil", mustB64(t, rfc7677Salt), 4096)
	if err != nil {
		t.Fatal(err)
	}
	// Independently computed (Python hashlib/hmac) from the same inputs.
	if got, want := base64.StdEncoding.EncodeToString(k.StoredKey), "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="; got != want {
		t.Errorf("StoredKey = %s, want %s", got, want)
	}
	if got, want := base64.StdEncoding.EncodeToString(k.ServerKey), "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="; got != want {
		t.Errorf("ServerKey = %s, want %s", got, want)
	}

	authMessage := rfc7677ClientFirst + "," + rfc7677ServerFirst + "," + rfc7677ClientFinal
	mac := func(key []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(authMessage))
		return m.Sum(nil)
	}
	clientSig := mac(k.StoredKey)
	proof := mustB64(t, rfc7677Proof)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ clientSig[i]
	}
	if h := sha256.Sum256(clientKey); !bytes.Equal(h[:], k.StoredKey) {
		t.Error("RFC 7677 client proof does not verify against StoredKey")
	}
	if got := base64.StdEncoding.EncodeToString(mac(k.ServerKey)); got != rfc7677ServerSig {
		t.Errorf("server signature = %s, want %s", got, rfc7677ServerSig)
	}
}

func TestSCRAMMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	k, err := NewSCRAMKeys("pencil")
	if err != nil {
		t.Fatal(err)
	}
	if k.Iterations != 4096 || len(k.Salt) != 16 || len(k.StoredKey) != 32 || len(k.ServerKey) != 32 {
		t.Fatalf("NewSCRAMKeys = %+v", k)
	}
	b := k.Marshal()
	if !bytes.HasPrefix(b, []byte("SCRAM-SHA-256$4096:")) {
		t.Errorf("Marshal = %q", b)
	}
	k2, err := UnmarshalSCRAM(b)
	if err != nil {
		t.Fatalf("UnmarshalSCRAM(%q): %v", b, err)
	}
	if k2.Iterations != k.Iterations || !bytes.Equal(k2.Salt, k.Salt) ||
		!bytes.Equal(k2.StoredKey, k.StoredKey) || !bytes.Equal(k2.ServerKey, k.ServerKey) {
		t.Errorf("round trip: got %+v, want %+v", k2, k)
	}
	// Same password, fresh salt: different keys.
	k3, _ := NewSCRAMKeys("pencil")
	if bytes.Equal(k3.Salt, k.Salt) || bytes.Equal(k3.StoredKey, k.StoredKey) {
		t.Error("two SCRAM derivations share salt or StoredKey")
	}
}

func TestSCRAMUnmarshalMalformed(t *testing.T) {
	t.Parallel()
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	short := base64.StdEncoding.EncodeToString(make([]byte, 31))
	salt := "W22ZaJ0SNY7soEsUEjb6gQ=="
	for _, s := range []string{
		"",
		"SCRAM-SHA-256",
		"SCRAM-SHA-1$4096:" + salt + "$" + key + ":" + key,
		"SCRAM-SHA-256$4096:" + salt,
		"SCRAM-SHA-256$4096$" + key + ":" + key,
		"SCRAM-SHA-256$4096:" + salt + "$" + key,
		"SCRAM-SHA-256$1024:" + salt + "$" + key + ":" + key,
		"SCRAM-SHA-256$99999999:" + salt + "$" + key + ":" + key,
		"SCRAM-SHA-256$x:" + salt + "$" + key + ":" + key,
		"SCRAM-SHA-256$4096:$" + key + ":" + key,
		"SCRAM-SHA-256$4096:!!$" + key + ":" + key,
		"SCRAM-SHA-256$4096:" + salt + "$" + short + ":" + key,
		"SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + short,
		"SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + key + ":",
		"SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + key + "$",
	} {
		if k, err := UnmarshalSCRAM([]byte(s)); !errors.Is(err, ErrMalformed) {
			t.Errorf("UnmarshalSCRAM(%q) = %+v, %v; want ErrMalformed", s, k, err)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	enc, err := Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := Verify(enc, "correct horse battery staple"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkNewSCRAMKeys(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewSCRAMKeys("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

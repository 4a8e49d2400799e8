package mailauth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Algorithm is a DKIM key type (the k= tag, RFC 6376 3.6.1).
type Algorithm string

// The key types we generate: Ed25519 (RFC 8463) for modern verifiers, and
// RSA for the many that still know nothing else (RFC 8301 3.2).
const (
	Ed25519 Algorithm = "ed25519"
	RSA     Algorithm = "rsa"
)

// RSABits is the size of the RSA keys we generate (RFC 8301 3.2: signers
// SHOULD use at least 2048 bits).
const RSABits = 2048

// Key is a DKIM private key and the selector its public key is published
// under (<Selector>._domainkey.<domain>, RFC 6376 3.6.2.1).
type Key struct {
	Selector string
	Signer   crypto.Signer // ed25519.PrivateKey or *rsa.PrivateKey
}

// Algorithm returns the key's type, or "" if it is neither Ed25519 nor RSA.
func (k Key) Algorithm() Algorithm {
	switch k.Signer.Public().(type) {
	case ed25519.PublicKey:
		return Ed25519
	case *rsa.PublicKey:
		return RSA
	}
	return ""
}

// Selector names a key generated at t: "gannet-<alg>-YYYYMM". The month
// makes a rotated key's selector differ from the one it replaces, so both
// can be published while mail signed with the old one is in flight.
func Selector(alg Algorithm, t time.Time) string {
	return fmt.Sprintf("gannet-%s-%s", alg, t.UTC().Format("200601"))
}

// GenerateKey returns a new private key of the given type, from crypto/rand.
func GenerateKey(alg Algorithm) (crypto.Signer, error) {
	switch alg {
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate ed25519 key: %w", err)
		}
		return k, nil
	case RSA:
		k, err := rsa.GenerateKey(rand.Reader, RSABits)
		if err != nil {
			return nil, fmt.Errorf("generate rsa key: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("generate key: unknown algorithm %q", alg)
}

// GenerateKeys returns the two keys a domain signs with, Ed25519 then RSA,
// with selectors for the month of now.
func GenerateKeys(now time.Time) ([]Key, error) {
	var keys []Key
	for _, alg := range []Algorithm{Ed25519, RSA} {
		k, err := GenerateKey(alg)
		if err != nil {
			return nil, err
		}
		keys = append(keys, Key{Selector: Selector(alg, now), Signer: k})
	}
	return keys, nil
}

// MarshalKey encodes a private key as a PEM "PRIVATE KEY" block (PKCS #8).
func MarshalKey(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("marshal dkim key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKey decodes a PEM private key written by MarshalKey; PKCS #1 "RSA
// PRIVATE KEY" blocks, as older tools write them, are accepted too.
func ParseKey(pemBytes []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		return nil, errors.New("parse dkim key: no PEM block")
	}
	var k any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("parse dkim key: unexpected PEM block %q", b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse dkim key: %w", err)
	}
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("parse dkim key: unsupported key type %T", k)
}

// KeyRecord returns the DKIM key record text for a public key (RFC 6376
// 3.6.1): p= is the SubjectPublicKeyInfo for RSA and the raw 32-byte key for
// Ed25519 (RFC 8463 4.2).
func KeyRecord(pub crypto.PublicKey) (string, error) {
	var k Algorithm
	var p []byte
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		k, p = Ed25519, pub
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", fmt.Errorf("dkim key record: %w", err)
		}
		k, p = RSA, der
	default:
		return "", fmt.Errorf("dkim key record: unsupported key type %T", pub)
	}
	return fmt.Sprintf("v=DKIM1; k=%s; p=%s", k, base64.StdEncoding.EncodeToString(p)), nil
}

// ParseKeyRecord returns the public key in a DKIM key record (RFC 6376
// 3.6.1), so a published record can be compared with the key we sign with.
func ParseKeyRecord(txt string) (crypto.PublicKey, error) {
	tags := parseTags(txt)
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return nil, fmt.Errorf("dkim key record: version %q", v)
	}
	p, ok := tags["p"]
	if !ok || p == "" {
		return nil, errors.New("dkim key record: no public key (p=)")
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return nil, fmt.Errorf("dkim key record: p=: %w", err)
	}
	switch k := Algorithm(strings.ToLower(tags["k"])); k {
	case Ed25519:
		if len(der) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("dkim key record: ed25519 key of %d bytes", len(der))
		}
		return ed25519.PublicKey(der), nil
	case RSA, "":
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return nil, fmt.Errorf("dkim key record: %w", err)
		}
		if _, ok := pub.(*rsa.PublicKey); !ok {
			return nil, fmt.Errorf("dkim key record: k=rsa but %T", pub)
		}
		return pub, nil
	default:
		return nil, fmt.Errorf("dkim key record: unknown key type %q", k)
	}
}

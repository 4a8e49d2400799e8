package store

import (
	"context"
	"time"
)

// DKIMKey is a domain's private signing key (RFC 6376), PEM encoded. A domain has
// one key per algorithm in use (Ed25519, RFC 8463, and RSA).
type DKIMKey struct {
	Domain    string
	Selector  string
	Algorithm string // "ed25519" or "rsa"
	PEM       []byte
	Created   time.Time
}

// KeyStore keeps DKIM keys. sqlstore implements it.
type KeyStore interface {
	// AddDKIMKey stores a key; ErrNotFound if the domain does not exist,
	// ErrExists if the domain already has that selector.
	AddDKIMKey(ctx context.Context, k DKIMKey) error
	// DKIMKeys lists a domain's keys, oldest first.
	DKIMKeys(ctx context.Context, domain string) ([]DKIMKey, error)
}

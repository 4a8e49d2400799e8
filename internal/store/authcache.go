package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"gannet/internal/password"
)

// AuthCache remembers recent successful logins so that a client that logs in
// again and again (IMAP clients open a connection per folder; POP3 clients poll)
// does not pay an argon2id verification, 19 MiB and tens of milliseconds, each
// time. It is Dovecot's auth_cache idea: the key is an HMAC of address and
// password under a per-process random key, so the cache holds no password and
// nothing usable outside this process. Failures are never cached (the shared
// limiter handles them), and a password change or account deletion clears the
// account's entries.
//
// The cache is per process, but the database is shared with other processes
// (`gannet user passwd` beside a running server). So the key also covers the
// account's id and its password hash as read from the database at this login:
// once another process changes the password (a new hash, with a new salt) or
// deletes the account, the entry can no longer be hit, and the login is
// checked against the new hash at once.
//
// Every backend keeps one (NewAuthCache), runs its Authenticate through
// AuthCache.Authenticate and calls Forget after committing a password change
// or an account deletion.
type AuthCache struct {
	key []byte
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[[32]byte]authEntry
}

type authEntry struct {
	address string
	expires time.Time
}

const (
	authCacheTTL = 5 * time.Minute
	authCacheMax = 10000
)

// NewAuthCache returns an empty cache under a new random key; now is the
// clock (time.Now, or a test's).
func NewAuthCache(now func() time.Time) *AuthCache {
	k := make([]byte, 32)
	rand.Read(k)
	return &AuthCache{key: k, ttl: authCacheTTL, now: now, entries: map[[32]byte]authEntry{}}
}

func (c *AuthCache) sum(a *Account, pw string) [32]byte {
	m := hmac.New(sha256.New, c.key)
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], uint64(a.ID))
	m.Write(id[:])
	m.Write([]byte(a.Address))
	m.Write([]byte{0})
	m.Write([]byte(a.PasswordHash))
	m.Write([]byte{0})
	m.Write([]byte(pw))
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}

// Hit reports whether pw logged in successfully to account a, with the
// password hash a has now, within the TTL. a must be read from the database
// at this login, not from a cache: its PasswordHash is what makes a change
// by another process take effect at once.
func (c *AuthCache) Hit(a *Account, pw string) bool {
	address := a.Address
	k := c.sum(a, pw)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || e.address != address {
		return false
	}
	if c.now().After(e.expires) {
		delete(c.entries, k)
		return false
	}
	return true
}

// Add records a successful login of pw to account a (as read for Hit).
func (c *AuthCache) Add(a *Account, pw string) {
	address := a.Address
	k := c.sum(a, pw)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= authCacheMax {
		now := c.now()
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= authCacheMax {
			c.entries = map[[32]byte]authEntry{}
		}
	}
	c.entries[k] = authEntry{address: address, expires: c.now().Add(c.ttl)}
}

// Forget drops every entry of an address (password changed, account
// deleted); call it after the change has committed, so that a login racing
// the change cannot leave the old password cached.
func (c *AuthCache) Forget(address string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.address == address {
			delete(c.entries, k)
		}
	}
}

// dummyHash is verified against when the account does not exist, so that the
// time taken does not reveal which addresses exist.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0dvKSAo0dZzmJ2iFahY4jYBB9GPHKZmLG7PzK6e2f1k"

// Authenticate is Store.Authenticate for a backend: lookup is its
// LoginAccount, which must read the account from the database and not from
// any cache of this process (see Hit). A recent successful login with the same
// password is answered from the cache; otherwise the password is verified
// (argon2id) and the success cached. An unknown or disabled account costs a
// verification too, unless fast (test stores with cheap hashing), so that
// timing does not tell which addresses exist. Failures are ErrAuthFailed.
func (c *AuthCache) Authenticate(ctx context.Context, lookup func(ctx context.Context, user string) (*Account, error), user, pw string, fast bool) (*Account, error) {
	a, err := lookup(ctx, user)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			if !fast {
				password.Verify(dummyHash, pw)
			}
			return nil, ErrAuthFailed
		}
		return nil, err
	}
	if c.Hit(a, pw) {
		return a, nil
	}
	ok, err := password.Verify(a.PasswordHash, pw)
	if err != nil || !ok {
		return nil, ErrAuthFailed
	}
	c.Add(a, pw)
	return a, nil
}

// HashPassword returns the stored forms of a new password: the argon2id hash
// (PHC string) and the encoded SCRAM-SHA-256 keys. fast selects the cheap
// test parameters. It is deliberately slow: call it outside any write lock.
func HashPassword(pw string, fast bool) (hash string, scram []byte, err error) {
	if pw == "" {
		return "", nil, fmt.Errorf("empty password: %w", ErrInvalidName)
	}
	p := password.DefaultParams()
	if fast {
		p = password.TestParams()
	}
	hash, err = p.Hash(pw)
	if err != nil {
		return "", nil, fmt.Errorf("hash password: %w", err)
	}
	keys, err := password.NewSCRAMKeys(pw)
	if err != nil {
		return "", nil, fmt.Errorf("scram keys: %w", err)
	}
	return hash, keys.Marshal(), nil
}

package sqlstore

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"

	"gannet/internal/store"
)

// authCache remembers recent successful logins so that a client that logs in
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
type authCache struct {
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

func newAuthCache(now func() time.Time) *authCache {
	k := make([]byte, 32)
	rand.Read(k)
	return &authCache{key: k, ttl: authCacheTTL, now: now, entries: map[[32]byte]authEntry{}}
}

func (c *authCache) sum(a *store.Account, pw string) [32]byte {
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

// hit reports whether pw logged in successfully to account a, with the
// password hash a has now, within the TTL.
func (c *authCache) hit(a *store.Account, pw string) bool {
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

func (c *authCache) add(a *store.Account, pw string) {
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

// forget drops every entry of an address (password changed, account deleted).
func (c *authCache) forget(address string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.address == address {
			delete(c.entries, k)
		}
	}
}

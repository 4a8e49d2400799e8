package webmail

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"sync"
	"time"
)

// Bounds on what sessions may cost in memory.
const (
	maxSessionsPerAccount = 64
	maxSessions           = 100000
)

// session is one logged-in browser.
type session struct {
	id        string // random token (also the map key)
	accountID int64
	address   string
	csrf      string // sent back in X-CSRF-Token on every state-changing request
	created   time.Time
	// done is closed at logout or expiry: event streams of the session end.
	done chan struct{}

	mu       sync.Mutex
	lastSeen time.Time
}

// sessions is the in-memory session table. Cookies are "token.mac" where mac
// is an HMAC-SHA256 of the token under a per-process key, so a forged or
// corrupted cookie is refused before any lookup.
//
// Locking: mu guards byID; a session's lastSeen has its own mutex.
type sessions struct {
	key         []byte
	idle, total time.Duration
	now         func() time.Time

	mu   sync.Mutex
	byID map[string]*session
}

func newSessions(key []byte, idle, total time.Duration, now func() time.Time) *sessions {
	return &sessions{key: key, idle: idle, total: total, now: now, byID: map[string]*session{}}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (t *sessions) mac(id string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// create starts a session and returns it with its cookie value.
func (t *sessions) create(accountID int64, address string) (*session, string) {
	now := t.now()
	s := &session{
		id: randomToken(), accountID: accountID, address: address, csrf: randomToken(),
		created: now, lastSeen: now, done: make(chan struct{}),
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.byID) >= maxSessions/2 {
		t.sweepLocked(now)
	}
	// One account's sessions are bounded: the oldest goes first.
	var mine []*session
	for _, o := range t.byID {
		if o.accountID == accountID {
			mine = append(mine, o)
		}
	}
	for len(mine) >= maxSessionsPerAccount {
		oldest := 0
		for i, o := range mine {
			if o.created.Before(mine[oldest].created) {
				oldest = i
			}
		}
		t.removeLocked(mine[oldest])
		mine = append(mine[:oldest], mine[oldest+1:]...)
	}
	if len(t.byID) >= maxSessions {
		t.sweepLocked(now)
	}
	t.byID[s.id] = s
	return s, s.id + "." + t.mac(s.id)
}

// lookup returns the live session named by a cookie value, or nil.
func (t *sessions) lookup(cookie string) *session {
	id, mac, ok := strings.Cut(cookie, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(t.mac(id))) {
		return nil
	}
	now := t.now()
	t.mu.Lock()
	s := t.byID[id]
	if s != nil && t.expired(s, now) {
		t.removeLocked(s)
		s = nil
	}
	t.mu.Unlock()
	if s == nil {
		return nil
	}
	s.mu.Lock()
	s.lastSeen = now
	s.mu.Unlock()
	return s
}

func (t *sessions) expired(s *session, now time.Time) bool {
	s.mu.Lock()
	last := s.lastSeen
	s.mu.Unlock()
	return now.Sub(last) > t.idle || now.Sub(s.created) > t.total
}

// remove ends a session (logout).
func (t *sessions) remove(s *session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removeLocked(s)
}

func (t *sessions) removeLocked(s *session) {
	if t.byID[s.id] == s {
		delete(t.byID, s.id)
		close(s.done)
	}
}

func (t *sessions) sweepLocked(now time.Time) {
	for _, s := range t.byID {
		if t.expired(s, now) {
			t.removeLocked(s)
		}
	}
}

// checkCSRF compares the request's token with the session's in constant time.
func (s *session) checkCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) == 1
}

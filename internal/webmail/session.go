package webmail

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"gannet/internal/store"
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
	// credential is a digest of the account's password hash at login: a
	// password changed since (by any process) ends the session.
	credential [32]byte
	created    time.Time
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

// credentialOf is what a session remembers of the account's password: a
// digest of its hash (which changes, with a new salt, at every password
// change), so the session table holds nothing a password could be checked
// against.
func credentialOf(a *store.Account) [32]byte {
	return sha256.Sum256([]byte("gannet webmail session\x00" + a.PasswordHash))
}

// create starts a session for an account just authenticated and returns it
// with its cookie value.
func (t *sessions) create(acct *store.Account) (*session, string) {
	now := t.now()
	accountID := acct.ID
	s := &session{
		id: randomToken(), accountID: accountID, address: acct.Address, csrf: randomToken(),
		credential: credentialOf(acct), created: now, lastSeen: now, done: make(chan struct{}),
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

// endAccount ends every session of an account and returns how many.
func (t *sessions) endAccount(accountID int64) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, s := range t.byID {
		if s.accountID == accountID {
			t.removeLocked(s)
			n++
		}
	}
	return n
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

// errSessionEnded: the session's account is gone, disabled, or has another
// password than at login.
var errSessionEnded = errors.New("session ended")

// currentSession returns the live session named by the request's cookie, nil
// when there is none. Every request re-checks the session's account in the
// store, so that a session never outlives its account, whoever changed it
// (another process included) and whether or not EndAccount was called: the
// account must still exist (ids are never reused, so the id cannot name a
// newer account), not be disabled, and have the password hash it had at
// login. A session failing that is ended. err is set only when the store
// itself fails.
func (s *Server) currentSession(r *http.Request) (*session, error) {
	c, err := r.Cookie(s.cookieName())
	if err != nil {
		return nil, nil
	}
	sess := s.sessions.lookup(c.Value)
	if sess == nil {
		return nil, nil
	}
	if err := s.checkAccount(r.Context(), sess); err != nil {
		if errors.Is(err, errSessionEnded) {
			return nil, nil
		}
		return nil, err
	}
	return sess, nil
}

// checkAccount returns errSessionEnded, and ends the session, when its
// account no longer allows it.
func (s *Server) checkAccount(ctx context.Context, sess *session) error {
	a, err := s.opts.Store.AccountByID(ctx, sess.accountID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err == nil && !a.Disabled {
		cred := credentialOf(a)
		if subtle.ConstantTimeCompare(sess.credential[:], cred[:]) == 1 {
			return nil
		}
	}
	s.sessions.remove(sess)
	s.log.Info("webmail session ended: account deleted, disabled or password changed", "account", sess.accountID)
	return errSessionEnded
}

// EndAccount ends every webmail session of an account, and with them their
// event streams (which send "bye"), and returns how many it ended. The
// application calls it for each account in the store's revocation feed
// (store.Store.AuthChanges); requests would refuse those sessions anyway,
// but an open event stream makes no request.
func (s *Server) EndAccount(accountID int64) int {
	return s.sessions.endAccount(accountID)
}

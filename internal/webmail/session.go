package webmail

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"gannet/internal/store"
)

// Bounds on the session table: an account's oldest sessions make room for
// its new ones at login; the sweep deletes anyone's least recently seen
// beyond maxSessions (so the total may exceed it by the logins of one
// sweepEvery).
const (
	maxSessionsPerAccount = 64
	maxSessions           = 100000
)

const (
	// touchEvery: a session's last-seen time is written to the store at
	// most this often (capped at a quarter of the idle timeout), not on
	// every request. A session may thus expire up to touchEvery before it
	// has been idle for the whole idle timeout.
	touchEvery = time.Minute
	// sweepEvery: expired sessions, and the least recently seen beyond
	// maxSessions, are deleted from the store at most this often per node,
	// at a login. A request for an expired session deletes it as well.
	sweepEvery = 10 * time.Minute
	// streamCheck: an event stream checks that its session still exists
	// this often, so that a logout on another node ends it within a few
	// seconds. This is polling (one primary-key read per open stream per
	// streamCheck), not the change feed: the feed carries mail changes per
	// account, and a logout is not one; the poll costs little beside the
	// stream's own mailbox queries. A logout on this node ends the stream
	// at once (sessions.watch).
	streamCheck = 2 * time.Second
	// storeWait bounds the store calls made outside a request.
	storeWait = 10 * time.Second
)

// maxCookie is longer than any cookie we hand out; longer ones are refused
// before hashing.
const maxCookie = 128

// session is one logged-in browser, as read from the store for one request.
// The cookie holds a 256-bit random token; the store keeps only its SHA-256
// (store.WebSession), so sessions are valid on every node sharing the store
// and a copy of the database holds no usable cookie.
//
// There is no HMAC on the cookie any more (there was one, keyed per process,
// when the table was in memory): it would have to be a key shared by every
// node, kept in the same database as the hashes it would protect, so it adds
// no secret an attacker with the database lacks; and a forged cookie costs
// one primary-key lookup that finds nothing, the same order of work as the
// request's own account check. Lookup by the token's hash leaks nothing
// through timing: the attacker chooses the token, not its hash.
type session struct {
	hash       [32]byte // SHA-256 of the cookie's token
	accountID  int64
	address    string // filled by the account check of each request
	csrf       string // sent back in X-CSRF-Token on every state-changing request
	credential [32]byte
	created    time.Time
	lastSeen   time.Time
}

// sessions is the session table in the store, and this node's registry of
// event streams waiting on sessions.
//
// Locking: mu guards watches and nextSweep. It is never held across a store
// call.
type sessions struct {
	st          store.WebSessions
	idle, total time.Duration
	touch       time.Duration
	now         func() time.Time

	mu        sync.Mutex
	watches   map[[32]byte]*watch
	nextSweep time.Time
}

// watch is the done channel of the event streams of one session on this
// node; n counts the streams using it.
type watch struct {
	accountID int64
	done      chan struct{}
	n         int
}

func newSessions(st store.WebSessions, idle, total time.Duration, now func() time.Time) *sessions {
	return &sessions{
		st: st, idle: idle, total: total, touch: min(touchEvery, idle/4), now: now,
		watches: map[[32]byte]*watch{},
	}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// credentialOf is what a session remembers of the account's password: a
// digest of its hash (which changes, with a new salt, at every password
// change), so the session table holds nothing a password could be checked
// against.
func credentialOf(a *store.Account) [32]byte {
	return sha256.Sum256([]byte("gannet webmail session\x00" + a.PasswordHash))
}

// create starts a session for an account just authenticated and returns it
// with its cookie value.
func (t *sessions) create(ctx context.Context, acct *store.Account) (*session, string, error) {
	now := t.now()
	if err := t.sweep(ctx, now); err != nil {
		return nil, "", err
	}
	token := randomToken()
	sess := &session{
		hash: hashToken(token), accountID: acct.ID, address: acct.Address, csrf: randomToken(),
		credential: credentialOf(acct), created: now, lastSeen: now,
	}
	err := t.st.CreateWebSession(ctx, store.WebSession{
		TokenHash: sess.hash, AccountID: sess.accountID, CSRF: sess.csrf, Credential: sess.credential,
		Created: now, LastSeen: now,
	}, maxSessionsPerAccount)
	if err != nil {
		return nil, "", fmt.Errorf("create session: %w", err)
	}
	return sess, token, nil
}

// sweep deletes expired sessions from the store, at most every sweepEvery.
func (t *sessions) sweep(ctx context.Context, now time.Time) error {
	t.mu.Lock()
	due := !now.Before(t.nextSweep)
	if due {
		t.nextSweep = now.Add(sweepEvery)
	}
	t.mu.Unlock()
	if !due {
		return nil
	}
	if _, err := t.st.ExpireWebSessions(ctx, now.Add(-t.idle), now.Add(-t.total), maxSessions); err != nil {
		return fmt.Errorf("expire sessions: %w", err)
	}
	return nil
}

// get reads the live session with that hash from the store; nil if there is
// none or it has expired (then it is deleted).
func (t *sessions) get(ctx context.Context, hash [32]byte) (*session, error) {
	ws, err := t.st.WebSession(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	sess := &session{
		hash: hash, accountID: ws.AccountID, csrf: ws.CSRF, credential: ws.Credential,
		created: ws.Created, lastSeen: ws.LastSeen,
	}
	now := t.now()
	if now.Sub(sess.lastSeen) > t.idle || now.Sub(sess.created) > t.total {
		return nil, t.remove(ctx, sess)
	}
	return sess, nil
}

// lookup returns the live session named by a cookie value, or nil, and
// records that it was seen (in the store at most every t.touch).
func (t *sessions) lookup(ctx context.Context, cookie string) (*session, error) {
	if cookie == "" || len(cookie) > maxCookie {
		return nil, nil
	}
	sess, err := t.get(ctx, hashToken(cookie))
	if sess == nil || err != nil {
		return nil, err
	}
	if now := t.now(); now.Sub(sess.lastSeen) >= t.touch {
		err := t.st.TouchWebSession(ctx, sess.hash, now)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil // deleted meanwhile, by another node
		}
		if err != nil {
			return nil, fmt.Errorf("touch session: %w", err)
		}
		sess.lastSeen = now
	}
	return sess, nil
}

// alive reports whether the session still exists and has not expired.
func (t *sessions) alive(ctx context.Context, sess *session) (bool, error) {
	live, err := t.get(ctx, sess.hash)
	return live != nil, err
}

// remove ends a session (logout, expiry, account check) on every node, and
// at once the event streams waiting on it on this node.
func (t *sessions) remove(ctx context.Context, sess *session) error {
	t.endWatches(func(h [32]byte, _ *watch) bool { return h == sess.hash })
	if _, err := t.st.DeleteWebSession(ctx, sess.hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// endAccount ends every session of an account and returns how many the
// store held.
func (t *sessions) endAccount(ctx context.Context, accountID int64) (int, error) {
	t.endWatches(func(_ [32]byte, w *watch) bool { return w.accountID == accountID })
	n, err := t.st.DeleteAccountWebSessions(ctx, accountID)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of account %d: %w", accountID, err)
	}
	return n, nil
}

// watch returns a channel closed when the session is removed through this
// node, and a function to call when the stream no longer waits on it.
func (t *sessions) watch(sess *session) (<-chan struct{}, func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.watches[sess.hash]
	if w == nil {
		w = &watch{accountID: sess.accountID, done: make(chan struct{})}
		t.watches[sess.hash] = w
	}
	w.n++
	return w.done, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		w.n--
		if w.n == 0 && t.watches[sess.hash] == w {
			delete(t.watches, sess.hash)
		}
	}
}

func (t *sessions) endWatches(match func([32]byte, *watch) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for h, w := range t.watches {
		if match(h, w) {
			close(w.done)
			delete(t.watches, h)
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
// (another node included) and whether or not EndAccount was called: the
// account must still exist (ids are never reused, so the id cannot name a
// newer account), not be disabled, and have the password hash it had at
// login. A session failing that is ended. err is set only when the store
// itself fails.
func (s *Server) currentSession(r *http.Request) (*session, error) {
	c, err := r.Cookie(s.cookieName())
	if err != nil {
		return nil, nil
	}
	sess, err := s.sessions.lookup(r.Context(), c.Value)
	if sess == nil || err != nil {
		return nil, err
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
// account no longer allows it; otherwise it fills the session's address.
func (s *Server) checkAccount(ctx context.Context, sess *session) error {
	a, err := s.opts.Store.AccountByID(ctx, sess.accountID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err == nil && !a.Disabled {
		cred := credentialOf(a)
		if subtle.ConstantTimeCompare(sess.credential[:], cred[:]) == 1 {
			sess.address = a.Address
			return nil
		}
	}
	if err := s.sessions.remove(ctx, sess); err != nil {
		return err
	}
	s.log.Info("webmail session ended: account deleted, disabled or password changed", "account", sess.accountID)
	return errSessionEnded
}

// EndAccount ends every webmail session of an account, on every node (they
// are deleted from the store), and the event streams of those sessions on
// this node at once (they send "bye"; streams on other nodes notice within
// streamCheck), and returns how many sessions the store held. The
// application calls it on each node for each account in the store's
// revocation feed (store.Store.AuthChanges); requests would refuse those
// sessions anyway, but an open event stream makes no request.
func (s *Server) EndAccount(accountID int64) int {
	ctx, cancel := context.WithTimeout(context.Background(), storeWait)
	defer cancel()
	n, err := s.sessions.endAccount(ctx, accountID)
	if err != nil {
		s.log.Warn("webmail: ending sessions failed", "account", accountID, "err", err)
	}
	return n
}

package imapbench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// kind is a command of the profile; its stats are kept per kind.
type kind int

const (
	kConnect kind = iota // connection and greeting: reported, not an op
	kLogin
	kSelect
	kFetch     // UID FETCH 1:* (FLAGS)
	kFetchBody // UID FETCH n (BODY.PEEK[])
	kSearch    // UID SEARCH HEADER Subject
	kStore     // UID STORE +FLAGS
	kExpunge
	kAppend
	kLogout
	numKinds
)

func (k kind) String() string {
	switch k {
	case kConnect:
		return "connect"
	case kLogin:
		return "LOGIN"
	case kSelect:
		return "SELECT"
	case kFetch:
		return "FETCH-FLAGS"
	case kFetchBody:
		return "FETCH-BODY"
	case kSearch:
		return "SEARCH"
	case kStore:
		return "STORE"
	case kExpunge:
		return "EXPUNGE"
	case kAppend:
		return "APPEND"
	case kLogout:
		return "LOGOUT"
	}
	return "kind" + strconv.Itoa(int(k))
}

const (
	// bodiesPerSession is how many bodies a session fetches, as imaptest's
	// default profile fetches a few per session.
	bodiesPerSession = 3
	// seenPerSession is how many messages a session marks \Seen.
	seenPerSession = 2
)

// worker runs one client's sessions back to back and keeps its own stats,
// merged after the run, so the hot path shares nothing but the op counter.
type worker struct {
	id       int
	o        *Options
	users    []string
	words    []string
	rng      *rand.Rand
	ops      *atomic.Int64 // shared by all workers, for MaxOps
	deadline time.Time

	lat      [numKinds][]time.Duration
	errs     [numKinds]int64
	samples  []string
	sessions int64
	appended int64
}

// stopped reports whether the run is over: time, ops or cancellation.
func (w *worker) stopped(ctx context.Context) bool {
	return ctx.Err() != nil || !time.Now().Before(w.deadline) || w.ops.Load() >= w.o.MaxOps
}

// fail records an error of kind k; the first few are kept verbatim.
func (w *worker) fail(k kind, err error) {
	w.errs[k]++
	if len(w.samples) < maxSampleErrors {
		w.samples = append(w.samples, fmt.Sprintf("client %d %s: %v", w.id, k, err))
	}
}

// do runs one command and records it. It returns false when the session
// must end: the command failed or the run is over.
func (w *worker) do(ctx context.Context, c *client, k kind, cmd string, lit []byte, untagged func([]byte)) bool {
	if w.stopped(ctx) {
		return false
	}
	t0 := time.Now()
	err := c.run(cmd, lit, untagged)
	if err != nil {
		if ctx.Err() != nil {
			return false // aborted by the caller, not the server's fault
		}
		w.fail(k, err)
		return false
	}
	w.lat[k] = append(w.lat[k], time.Since(t0))
	w.ops.Add(1)
	return true
}

// session is one connection: the profile from LOGIN to LOGOUT.
func (w *worker) session(ctx context.Context) {
	user := w.users[w.rng.IntN(len(w.users))]
	t0 := time.Now()
	c, err := dial(ctx, w.o)
	if err != nil {
		if ctx.Err() == nil {
			w.fail(kConnect, err)
		}
		return
	}
	w.lat[kConnect] = append(w.lat[kConnect], time.Since(t0))
	defer c.close()
	// A cancelled run must not wait for a slow server's answer.
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	w.sessions++

	if !w.do(ctx, c, kLogin, "LOGIN "+quote(user)+" "+quote(w.o.Password), nil, nil) ||
		!w.do(ctx, c, kSelect, "SELECT INBOX", nil, nil) {
		return
	}
	var uids []uint32
	if !w.do(ctx, c, kFetch, "UID FETCH 1:* (FLAGS)", nil, func(line []byte) {
		if uid, ok := fetchUID(line); ok {
			uids = append(uids, uid)
		}
	}) {
		return
	}
	// UIDs, not sequence numbers: other clients expunge concurrently, and a
	// UID that is gone by now is simply not found (RFC 9051 6.4.9).
	for range min(bodiesPerSession, len(uids)) {
		if !w.do(ctx, c, kFetchBody, "UID FETCH "+w.pickUID(uids)+" (BODY.PEEK[])", nil, nil) {
			return
		}
	}
	word := w.words[w.rng.IntN(len(w.words))]
	if !w.do(ctx, c, kSearch, `UID SEARCH HEADER Subject "`+word+`"`, nil, nil) {
		return
	}
	// One \Deleted and one APPEND per session keep the mailboxes at about
	// the size they were prefilled with, however long the run.
	if len(uids) > 0 {
		seen := w.pickUID(uids)
		for range seenPerSession - 1 {
			seen += "," + w.pickUID(uids)
		}
		if !w.do(ctx, c, kStore, "UID STORE "+seen+` +FLAGS (\Seen)`, nil, nil) ||
			!w.do(ctx, c, kStore, "UID STORE "+w.pickUID(uids)+` +FLAGS (\Deleted)`, nil, nil) ||
			!w.do(ctx, c, kExpunge, "EXPUNGE", nil, nil) {
			return
		}
	}
	w.appended++
	msg := message(w.rng, w.words, user, fmt.Sprintf("%d.%d.%d", w.o.Seed, w.id, w.appended))
	if !w.do(ctx, c, kAppend, "APPEND INBOX", msg, nil) {
		return
	}
	w.do(ctx, c, kLogout, "LOGOUT", nil, nil)
}

func (w *worker) pickUID(uids []uint32) string {
	return strconv.FormatUint(uint64(uids[w.rng.IntN(len(uids))]), 10)
}

// fetchUID returns the UID of an untagged FETCH response
// ("* 3 FETCH (UID 7 FLAGS (\Seen))"; the UID item may come anywhere).
func fetchUID(line []byte) (uint32, bool) {
	_, items, ok := bytes.Cut(line, []byte(" FETCH ("))
	if !ok {
		return 0, false
	}
	for {
		i := bytes.Index(items, []byte("UID "))
		if i < 0 {
			return 0, false
		}
		if i == 0 || items[i-1] == ' ' || items[i-1] == '(' {
			rest := items[i+4:]
			j := 0
			for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
				j++
			}
			n, err := strconv.ParseUint(string(rest[:j]), 10, 32)
			return uint32(n), err == nil && n > 0
		}
		items = items[i+4:]
	}
}

// quote makes an IMAP quoted string (RFC 9051 4.3).
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

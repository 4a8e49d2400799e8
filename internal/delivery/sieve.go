package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"gannet/internal/sieve"
	"gannet/internal/smtp"
	"gannet/internal/store"
)

// Every local delivery runs the recipient account's active Sieve script
// (docs/ARCHITECTURE.md, "Sieve in delivery") before the store transaction:
// the script decides the account's store recipients (mailboxes and flags),
// a refusal, redirects (enqueued before the store commit, so that a failed
// enqueue can still fall back to a keep) and a vacation reply (sent only once
// the store committed). Whatever goes wrong with a script, the message is
// kept in the default place and the failure logged: mail is never lost to a
// script.

// maxCachedScripts bounds the compiled-script cache.
const maxCachedScripts = 256

// scriptCache holds compiled scripts by the SHA-256 of their source, so that
// a script is compiled once, not per message. A *sieve.Script is immutable
// and shared by concurrent runs.
type scriptCache struct {
	mu sync.Mutex
	m  map[[32]byte]*sieve.Script
}

func (c *scriptCache) compile(name string, src []byte) (*sieve.Script, error) {
	key := sha256.Sum256(append([]byte(name+"\x00"), src...))
	c.mu.Lock()
	sc := c.m[key]
	c.mu.Unlock()
	if sc != nil {
		return sc, nil
	}
	sc, err := sieve.Compile(name, src, sieve.Options{})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedScripts {
		c.m = make(map[[32]byte]*sieve.Script)
	}
	c.m[key] = sc
	c.mu.Unlock()
	return sc, nil
}

// sievePlan is what one account's script decided.
type sievePlan struct {
	account  int64
	rcpts    []store.Recipient
	edited   []byte      // the message with the script's header (editheader), or nil
	reject   *smtp.Reply // reject/ereject: the refusal for this recipient
	vacation *sieve.Vacation
	dupKeys  []string // duplicate records made by this run, dropped if delivery fails
}

// seenKey hashes what a seen record is about: keys stay short whatever a
// script or a sender supplies.
func seenKey(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}

// runSieve runs the account's active script on msg (the message with our
// Received field, without Return-Path). base is where the implicit keep goes
// (INBOX, or Junk for quarantined mail). It returns nil when the account has
// no active script or the script could not run: then the caller keeps.
func (d *Deliverer) runSieve(ctx context.Context, env *Envelope, msg []byte, base store.Recipient, rcptAddr string, now time.Time) *sievePlan {
	id := base.AccountID
	sc, err := d.st.ActiveSieveScript(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		d.log.Error("sieve: reading the active script failed; keeping", "account", id, "err", err)
		return nil
	}
	script, err := d.scripts.compile(sc.Name, sc.Content)
	if err != nil {
		d.log.Warn("sieve: the active script does not compile; keeping", "account", id, "err", err)
		return nil
	}
	addrs, err := d.st.Addresses(ctx, id)
	if err != nil {
		d.log.Warn("sieve: the account's addresses", "account", id, "err", err)
	}
	p := &sievePlan{account: id}
	senv := sieve.Env{
		Now:       func() time.Time { return now },
		Addresses: addrs,
		MailboxExists: func(ctx context.Context, name string) (bool, error) {
			_, err := d.st.Mailbox(ctx, id, name)
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidName) {
				return false, nil
			}
			return err == nil, err
		},
		Duplicate: func(ctx context.Context, dupID string, period time.Duration, last bool) (bool, error) {
			key := seenKey(dupID)
			seen, err := d.st.MarkSieveSeen(ctx, store.SeenMark{AccountID: id, Kind: store.SeenDuplicate, Key: key,
				Now: now, Expires: now.Add(period), Refresh: last})
			if err == nil && !seen {
				p.dupKeys = append(p.dupKeys, key)
			}
			return seen, err
		},
		VacationSent: func(ctx context.Context, handle, sender string, period time.Duration) (bool, error) {
			return d.st.SieveSeen(ctx, id, store.SeenVacation, seenKey(handle, strings.ToLower(sender)), now)
		},
		Include: func(ctx context.Context, name string, global bool) ([]byte, error) {
			if global {
				return nil, fmt.Errorf("global script %q: %w", name, sieve.ErrNoScript)
			}
			inc, err := d.st.SieveScript(ctx, id, name)
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("script %q: %w", name, sieve.ErrNoScript)
			}
			if err != nil {
				return nil, err
			}
			return inc.Content, nil
		},
		Environment: map[string]string{"domain": d.hostname, "host": d.hostname, "name": "gannet", "phase": "during"},
	}
	if env.Trace.RemoteIP.IsValid() {
		senv.Environment["remote-ip"] = env.Trace.RemoteIP.String()
	}
	m := sieve.NewMessage(msg, nil, sieve.Envelope{From: env.From.String(), To: rcptAddr})
	res, err := script.Run(ctx, m, senv)
	if err != nil {
		// RFC 5228 2.10.6: a run-time error means the implicit keep; Run
		// returns a Result holding just that.
		d.log.Warn("sieve: run-time error; keeping", "account", id, "err", err)
		if res == nil {
			return nil
		}
	}
	if res.HeaderEdited {
		p.edited = append(append(make([]byte, 0, len(res.Header)+len(msg)), res.Header...), msg[m.BodyStart():]...)
	}
	var redirects []string
	seen := map[string]bool{}
	keep := func(r store.Recipient) {
		name := r.Mailbox
		if name == "" {
			name = "INBOX"
		}
		if n, err := store.NormMailbox(name); err == nil {
			name = n
		}
		if seen[name] {
			return // RFC 5228 2.10.3: one copy per mailbox
		}
		seen[name] = true
		p.rcpts = append(p.rcpts, r)
	}
	for _, a := range res.Actions {
		switch a.Kind {
		case sieve.Keep:
			r := base
			r.Flags = d.validFlags(id, a.Flags)
			keep(r)
		case sieve.FileInto:
			r := store.Recipient{AccountID: id, Mailbox: a.Mailbox, Flags: d.validFlags(id, a.Flags)}
			if err := d.ensureMailbox(ctx, id, a.Mailbox, a.Create); err != nil {
				// RFC 5228 4.1: a mailbox that cannot be filed into is an
				// error, and an error means the implicit keep.
				d.log.Warn("sieve: fileinto failed; keeping", "account", id, "mailbox", a.Mailbox, "err", err)
				r = base
			}
			keep(r)
		case sieve.Redirect:
			redirects = append(redirects, a.Address)
		case sieve.Reject, sieve.EReject:
			p.reject = rejectReply(a.Reason)
		case sieve.Reply:
			p.vacation = a.Vacation
		case sieve.Discard:
		default:
			d.log.Info("sieve: action not supported here, ignored", "account", id, "action", string(a.Kind))
		}
	}
	if p.reject != nil {
		p.rcpts = nil
	}
	if len(redirects) > 0 {
		out := msg
		if p.edited != nil {
			out = p.edited
		}
		if err := d.redirect(ctx, env, id, out, redirects); err != nil {
			d.log.Error("sieve: redirect failed; keeping", "account", id, "err", err)
			if p.reject == nil {
				keep(base)
			}
		}
	}
	d.log.Info("sieve", "account", id, "script", sc.Name, "actions", len(res.Actions),
		"stores", len(p.rcpts), "redirects", len(redirects), "rejected", p.reject != nil, "vacation", p.vacation != nil)
	return p
}

// ensureMailbox checks that a mailbox exists and creates it with create
// (fileinto :create, RFC 5490 3.2).
func (d *Deliverer) ensureMailbox(ctx context.Context, accountID int64, name string, create bool) error {
	_, err := d.st.Mailbox(ctx, accountID, name)
	if err == nil || !errors.Is(err, store.ErrNotFound) || !create {
		return err
	}
	if _, err := d.st.CreateMailbox(ctx, accountID, name, ""); err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	return nil
}

// validFlags drops the flags the store would refuse (a delivery must not fail
// over a script's bad flag).
func (d *Deliverer) validFlags(accountID int64, flags []string) []string {
	var out []string
	for _, f := range flags {
		if _, err := store.ParseFlags([]string{f}); err != nil {
			d.log.Info("sieve: flag dropped", "account", accountID, "flag", f)
			continue
		}
		out = append(out, f)
	}
	return out
}

// maxReasonLen bounds the reject reason in an SMTP reply (RFC 5321 4.5.3.1.5:
// a reply line is at most 512 octets).
const maxReasonLen = 400

// rejectReply is the refusal for reject/ereject: 550 5.7.1 with the script's
// reason (RFC 5429 2.1, 2.2), made one line of printable ASCII.
func rejectReply(reason string) *smtp.Reply {
	var b strings.Builder
	for _, r := range reason {
		switch {
		case b.Len() >= maxReasonLen:
		case r == '\r' || r == '\n' || r == '\t':
			b.WriteByte(' ')
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			b.WriteByte('?')
		}
	}
	text := strings.Join(strings.Fields(b.String()), " ")
	if text == "" {
		text = "Message rejected by the recipient's filter"
	}
	return smtp.NewReply(550, smtp.EnhancedCode{5, 7, 1}, text).WithCause(errors.New("sieve reject"))
}

// redirect enqueues msg for the script's redirect addresses with the original
// envelope sender (RFC 5228 4.2); the engine bounds how many there are.
func (d *Deliverer) redirect(ctx context.Context, env *Envelope, accountID int64, msg []byte, addrs []string) error {
	if d.queue == nil {
		return errors.New("no outbound queue configured")
	}
	var rcpts []string
	for _, a := range addrs {
		if _, err := smtp.ParseAddress(a); err != nil {
			d.log.Warn("sieve: redirect address refused", "account", accountID, "err", err)
			continue
		}
		rcpts = append(rcpts, a)
	}
	if len(rcpts) == 0 {
		return errors.New("no valid redirect address")
	}
	return d.queue.Enqueue(ctx, store.Outbound{From: env.From.String(), Recipients: rcpts, Raw: msg})
}

// afterSieve finishes a plan once the store has answered: a vacation reply
// when the account got the message, and the duplicate records dropped when it
// did not (RFC 7352 3: a message that was not delivered was not seen).
func (d *Deliverer) afterSieve(ctx context.Context, p *sievePlan, delivered bool, accountAddr string, now time.Time) {
	if !delivered {
		for _, k := range p.dupKeys {
			if err := d.st.ForgetSieveSeen(ctx, p.account, store.SeenDuplicate, k); err != nil {
				d.log.Warn("sieve: dropping a duplicate record", "account", p.account, "err", err)
			}
		}
		return
	}
	if p.vacation != nil {
		d.sendVacation(ctx, p.account, accountAddr, p.vacation, now)
	}
}

// sendVacation sends a vacation reply from the null reverse-path (RFC 5230
// 4.5, RFC 3834 3.3), at most once per sender per period: the seen record is
// taken first, atomically, so that two concurrent deliveries do not both
// reply, and given back if the reply could not be queued.
func (d *Deliverer) sendVacation(ctx context.Context, accountID int64, accountAddr string, v *sieve.Vacation, now time.Time) {
	if d.queue == nil {
		d.log.Warn("sieve: vacation reply not sent: no outbound queue", "account", accountID)
		return
	}
	key := seenKey(v.Handle, strings.ToLower(v.To))
	seen, err := d.st.MarkSieveSeen(ctx, store.SeenMark{AccountID: accountID, Kind: store.SeenVacation, Key: key,
		Now: now, Expires: now.Add(v.Period)})
	if err != nil {
		d.log.Error("sieve: vacation record", "account", accountID, "err", err)
		return
	}
	if seen {
		return
	}
	raw := v.Compose(now, "<"+NewID()+"@"+d.hostname+">")
	if d.sign != nil {
		_, domain, _ := strings.Cut(accountAddr, "@")
		if signed, err := d.sign(ctx, domain, raw); err != nil {
			d.log.Warn("sieve: vacation reply not signed", "account", accountID, "err", err)
		} else {
			raw = signed
		}
	}
	if err := d.queue.Enqueue(ctx, store.Outbound{From: "", Recipients: []string{v.To}, Raw: raw, AccountID: accountID}); err != nil {
		d.log.Error("sieve: vacation reply not queued", "account", accountID, "err", err)
		if err := d.st.ForgetSieveSeen(ctx, accountID, store.SeenVacation, key); err != nil {
			d.log.Warn("sieve: dropping a vacation record", "account", accountID, "err", err)
		}
		return
	}
	d.log.Info("sieve: vacation reply queued", "account", accountID)
}

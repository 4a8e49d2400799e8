package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gannet/internal/smtp"
	"gannet/internal/store"
)

// RcptPolicy is what CheckRecipient needs to know about the transaction.
type RcptPolicy struct {
	// Relay allows remote recipients: the client is authenticated. Without it
	// only local recipients are accepted, so the MX is never an open relay.
	Relay bool
	// Size is the size the client announced with MAIL SIZE= (RFC 1870), 0 if
	// none; it lets a full mailbox be refused at RCPT rather than after DATA.
	Size int64
}

// CheckRecipient decides at RCPT time whether mail for addr is accepted
// (RFC 5321 3.3), and resolves it. Refusals are *smtp.Reply:
//   - a local domain with no such account, alias or catch-all: 550 5.1.1;
//   - a remote domain without Relay: 554 5.7.1;
//   - a local account over its quota: 452 4.2.2 (every account, for an alias);
//   - remote destinations with no queue configured, or a store failure: 451 4.3.0.
func (d *Deliverer) CheckRecipient(ctx context.Context, addr smtp.Address, p RcptPolicy) (*Recipient, error) {
	if addr.IsNull() {
		return nil, smtp.BadRecipientSyntax().WithCause(errors.New("empty recipient"))
	}
	r := &Recipient{Address: addr}
	isLocal := false
	if !addr.IsLiteral() {
		var err error
		isLocal, err = d.st.IsLocalDomain(ctx, addr.ASCIIDomain())
		if err != nil {
			return nil, smtp.LocalError().WithCause(fmt.Errorf("check domain of %s: %w", addr, err))
		}
	}
	if !isLocal {
		if !p.Relay {
			return nil, smtp.RelayDenied().WithCause(fmt.Errorf("relay to %s", addr))
		}
		if d.queue == nil {
			return nil, smtp.LocalError().WithCause(errors.New("no outbound queue configured"))
		}
		r.remote = []string{addr.String()}
		return r, nil
	}
	res, err := d.st.Resolve(ctx, addr.Key())
	if errors.Is(err, store.ErrNotFound) && strings.EqualFold(addr.Local, "postmaster") {
		res, err = d.resolvePostmaster(ctx)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, smtp.NoSuchUser().WithCause(fmt.Errorf("resolve %s: %w", addr, err))
	}
	if err != nil {
		return nil, smtp.LocalError().WithCause(fmt.Errorf("resolve %s: %w", addr, err))
	}
	if len(res.Remote) > 0 && d.queue == nil {
		return nil, smtp.LocalError().WithCause(fmt.Errorf("alias %s forwards to remote addresses but no outbound queue is configured", addr))
	}
	r.local, r.remote = res.Local, res.Remote
	if len(r.remote) == 0 && len(r.local) > 0 {
		full := 0
		for _, a := range r.local {
			if overQuota(&a, p.Size) {
				full++
			}
		}
		if full == len(r.local) {
			return nil, smtp.MailboxFull().WithCause(fmt.Errorf("%s: %w", addr, store.ErrOverQuota))
		}
	}
	return r, nil
}

// overQuota reports whether a message of size bytes cannot fit (RFC 9208
// semantics: a limit of 0 is no limit). Size 0 (unknown) checks only that the
// account is not already full.
func overQuota(a *store.Account, size int64) bool {
	if a.QuotaMessages > 0 && a.UsedMessages >= a.QuotaMessages {
		return true
	}
	if a.QuotaBytes > 0 && (a.UsedBytes >= a.QuotaBytes || a.UsedBytes+size > a.QuotaBytes) {
		return true
	}
	return false
}

// resolvePostmaster resolves the configured postmaster, or the oldest account
// when none is configured: RFC 5321 4.5.1 says a server MUST accept mail for
// postmaster at each domain it serves, so a fresh server with no
// postmaster@ alias must not answer 550 for it (Postfix ships the alias
// "postmaster: root" for the same reason).
func (d *Deliverer) resolvePostmaster(ctx context.Context) (*store.Resolution, error) {
	if d.postmaster != "" {
		return d.st.Resolve(ctx, d.postmaster)
	}
	accts, err := d.st.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	var oldest *store.Account
	for i := range accts {
		if oldest == nil || accts[i].ID < oldest.ID {
			oldest = &accts[i]
		}
	}
	if oldest == nil {
		return nil, store.ErrNotFound
	}
	return &store.Resolution{Local: []store.Account{*oldest}}, nil
}

package sasl

import (
	"context"
	"errors"
	"log/slog"

	"gannet/internal/password"
	"gannet/internal/store"
)

// SCRAMAccount finds the account and stored SCRAM keys for a SCRAM login, for
// the protocol servers' SCRAMLookup. An unknown user, or an account without
// usable keys (one created before SCRAM, or corrupt keys: it can still use
// PLAIN), gives a nil account and no error, so that the exchange fails like a
// wrong password; err is set only when the store itself fails.
func SCRAMAccount(ctx context.Context, st store.Store, user string, log *slog.Logger) (password.SCRAMKeys, *store.Account, error) {
	a, err := st.LoginAccount(ctx, user)
	if errors.Is(err, store.ErrNotFound) {
		return password.SCRAMKeys{}, nil, nil
	}
	if err != nil {
		return password.SCRAMKeys{}, nil, err
	}
	keys, err := password.UnmarshalSCRAM(a.SCRAM)
	if err != nil {
		log.Warn("no usable SCRAM keys", "user", a.Address, "err", err)
		return password.SCRAMKeys{}, nil, nil
	}
	return keys, a, nil
}

// SCRAMLogin is what a protocol server gives NewSCRAMLogin.
type SCRAMLogin struct {
	Secret []byte // the server's SCRAM secret (unknown users get stable fake salts)
	Store  store.Store
	Log    *slog.Logger
	// Admit runs the failed-login limiter before any lookup.
	Admit func(user string) error
	// StoreErr is the protocol's answer when the store itself fails.
	StoreErr func(error) error
	// Failed is called for a wrong password or an unknown user.
	Failed func(user string) error
	// Succeeded is called with the account once the client's proof is good.
	Succeeded func(user string, a *store.Account) error
}

// NewSCRAMLogin returns SCRAM-SHA-256 (RFC 7677) over the store's accounts,
// found by login name (SCRAMAccount) once Admit lets the attempt through.
func NewSCRAMLogin(ctx context.Context, l SCRAMLogin) Server {
	var found *store.Account
	lookup := func(user string) (password.SCRAMKeys, bool, error) {
		if err := l.Admit(user); err != nil {
			return password.SCRAMKeys{}, false, err
		}
		keys, a, err := SCRAMAccount(ctx, l.Store, user, l.Log)
		if err != nil {
			return password.SCRAMKeys{}, false, l.StoreErr(err)
		}
		if a == nil {
			return password.SCRAMKeys{}, false, nil
		}
		found = a
		return keys, true, nil
	}
	result := func(user string, ok bool) error {
		if !ok {
			return l.Failed(user)
		}
		return l.Succeeded(user, found)
	}
	return NewSCRAMSHA256(l.Secret, lookup, result)
}

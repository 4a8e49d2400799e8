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

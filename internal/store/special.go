package store

import (
	"context"
	"errors"
	"fmt"
)

// Special-use mailboxes (RFC 6154) are found the same way by every protocol:
// the mailbox marked with the use, else the one with the use's default name
// (DefaultMailboxes: accounts made before the marks, or a mailbox the user
// made by hand). A client may rename a marked mailbox; it stays the one.

// DefaultMailboxName is the name DefaultMailboxes gives a special use, "" for
// a use that is not one of them.
func DefaultMailboxName(use string) string {
	for _, d := range DefaultMailboxes {
		if d.SpecialUse == use && use != "" {
			return d.Name
		}
	}
	return ""
}

// FindSpecialMailbox returns the account's mailbox with a special use (such as
// SpecialJunk), else the one with its default name; ErrNotFound if neither
// exists. It creates nothing: for callers that rather fall back (delivery
// files junk in INBOX when the user deleted Junk).
func FindSpecialMailbox(ctx context.Context, s Store, accountID int64, use string) (*Mailbox, error) {
	mbs, err := s.Mailboxes(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("find %s mailbox: %w", use, err)
	}
	name := DefaultMailboxName(use)
	var byName *Mailbox
	for i := range mbs {
		if mbs[i].SpecialUse == use {
			return &mbs[i], nil
		}
		if name != "" && mbs[i].Name == name {
			byName = &mbs[i]
		}
	}
	if byName != nil {
		return byName, nil
	}
	return nil, fmt.Errorf("%s mailbox: %w", use, ErrNotFound)
}

// SpecialMailbox is FindSpecialMailbox, creating the mailbox under its
// default name, marked with the use, when the account has none (older
// accounts, or one deleted over IMAP). A concurrent creation by another
// session (ErrExists) is answered by reading again. use must be one of
// DefaultMailboxes' uses (ErrInvalidName otherwise).
func SpecialMailbox(ctx context.Context, s Store, accountID int64, use string) (*Mailbox, error) {
	name := DefaultMailboxName(use)
	if name == "" {
		return nil, fmt.Errorf("special use %q: %w", use, ErrInvalidName)
	}
	for range 2 {
		m, err := FindSpecialMailbox(ctx, s, accountID, use)
		if !errors.Is(err, ErrNotFound) {
			return m, err
		}
		m, err = s.CreateMailbox(ctx, accountID, name, use)
		if err == nil {
			return m, nil
		}
		if !errors.Is(err, ErrExists) {
			return nil, fmt.Errorf("create %s mailbox: %w", use, err)
		}
		// Created meanwhile by another session: look again.
	}
	return nil, fmt.Errorf("find %s mailbox: %w", use, ErrNotFound)
}

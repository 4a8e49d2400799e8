package store

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"gannet/internal/sieve"
)

// ErrInvalidScript: a Sieve script that does not compile, or a bad script
// name. The error also wraps the compiler's *sieve.Error (errors.As), whose
// text gives the line and column and is safe to show the script's owner.
var ErrInvalidScript = errors.New("invalid sieve script")

// MaxSieveScripts bounds how many scripts one account may keep.
const MaxSieveScripts = 64

// MaxSieveNameLen bounds a script name in bytes (RFC 5804 1.6 leaves the
// length to the server).
const MaxSieveNameLen = 128

// Kinds of SieveSeen records.
const (
	SeenVacation  = "vacation"  // a vacation reply sent (RFC 5230 4.2)
	SeenDuplicate = "duplicate" // a message id seen by the duplicate test (RFC 7352 3)
)

// SieveScript is one of an account's Sieve scripts (RFC 5804 1.6: an
// account has any number of scripts, at most one of them active).
type SieveScript struct {
	Name    string
	Content []byte // empty from SieveScripts
	Size    int64
	Active  bool
	Updated time.Time // unix seconds
}

// SeenMark is one record of the Sieve "seen" table: vacation replies sent and
// message ids the duplicate test saw, per account, until Expires.
type SeenMark struct {
	AccountID int64
	Kind      string // SeenVacation, SeenDuplicate
	Key       string // what was seen; callers hash long keys
	Now       time.Time
	Expires   time.Time
	// Refresh moves a live record's expiry to Expires (duplicate :last,
	// RFC 7352 3.4); without it a live record keeps its expiry.
	Refresh bool
}

// SieveStore keeps the accounts' Sieve scripts and the state their runs
// need. Scripts go with their account (deleting the account deletes them).
type SieveStore interface {
	// PutSieveScript creates or replaces a script. The content is compiled
	// first (ValidateSieveScript): ErrInvalidScript when it does not
	// compile; ErrOverQuota beyond MaxSieveScripts; ErrNotFound when the
	// account does not exist. Replacing the active script keeps it active.
	PutSieveScript(ctx context.Context, accountID int64, name string, content []byte) error
	// SieveScript returns a script with its content; ErrNotFound.
	SieveScript(ctx context.Context, accountID int64, name string) (*SieveScript, error)
	// ActiveSieveScript returns the active script with its content;
	// ErrNotFound when none is active.
	ActiveSieveScript(ctx context.Context, accountID int64) (*SieveScript, error)
	// SieveScripts lists the account's scripts by name, without content.
	SieveScripts(ctx context.Context, accountID int64) ([]SieveScript, error)
	// ActivateSieveScript makes name the active script and every other
	// inactive; "" deactivates them all (RFC 5804 2.8). ErrNotFound.
	ActivateSieveScript(ctx context.Context, accountID int64, name string) error
	// RenameSieveScript renames a script, keeping whether it is active
	// (RFC 5804 2.11.1). ErrNotFound, ErrExists.
	RenameSieveScript(ctx context.Context, accountID int64, oldName, newName string) error
	// DeleteSieveScript deletes an inactive script; ErrNotPermitted for the
	// active one (RFC 5804 2.10), ErrNotFound.
	DeleteSieveScript(ctx context.Context, accountID int64, name string) error

	// MarkSieveSeen records m and reports whether a record of the same
	// account, kind and key was already live (Expires after m.Now), in one
	// atomic step, so that two concurrent deliveries do not both see "new".
	// Expired records of the account are dropped on the way.
	MarkSieveSeen(ctx context.Context, m SeenMark) (seen bool, err error)
	// SieveSeen reports whether a live record exists, without writing.
	SieveSeen(ctx context.Context, accountID int64, kind, key string, now time.Time) (bool, error)
	// ForgetSieveSeen deletes a record (a delivery that failed after its
	// duplicate test recorded it, RFC 7352 3).
	ForgetSieveSeen(ctx context.Context, accountID int64, kind, key string) error
}

// CheckSieveName checks a script name: UTF-8 without control characters
// (RFC 5804 1.6), 1..MaxSieveNameLen bytes.
func CheckSieveName(name string) error {
	if name == "" || len(name) > MaxSieveNameLen || !utf8.ValidString(name) {
		return fmt.Errorf("script name: %w", ErrInvalidScript)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("script name: %w", ErrInvalidScript)
		}
	}
	return nil
}

// ValidateSieveScript checks the name and compiles the content as delivery
// will run it. The error wraps ErrInvalidScript and the compiler's
// *sieve.Error.
func ValidateSieveScript(name string, content []byte) error {
	if err := CheckSieveName(name); err != nil {
		return err
	}
	if _, err := sieve.Compile(name, content, sieve.Options{}); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidScript, err)
	}
	return nil
}

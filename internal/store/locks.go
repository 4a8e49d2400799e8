package store

import "context"

// Locker hands out named exclusive locks that hold across every process
// sharing the store: the POP3 maildrop lock (RFC 2449 8.1.2 [IN-USE]) must
// refuse a second session whichever node it reaches (docs/ARCHITECTURE.md,
// "Several nodes").
//
// A lock belongs to the process that took it, not to a goroutine or a
// connection of the caller. It is held until Release, until the Store is
// closed, or until the backend loses it: a PostgreSQL node whose lock
// connection breaks loses every lock it held at once (the database has
// already released them, and another node may take them). Lost is then
// closed, and the holder must stop acting under the lock as soon as it can
// (a POP3 session ends without entering the UPDATE state). Backends do not
// take a lost lock again behind the holder's back: between the loss and a
// new TryLock another node may have taken it.
type Locker interface {
	// TryLock takes the lock named key if no one holds it, in this process
	// or any other, and returns it with ok true. It does not wait: ok is
	// false (and the Lock nil) when the lock is held, even by this process.
	// err is set when the backend cannot tell (ErrClosed after Close).
	TryLock(ctx context.Context, key string) (l Lock, ok bool, err error)
}

// Lock is one held lock.
type Lock interface {
	// Release gives the lock up. It is safe to call more than once and after
	// the lock was lost or the store closed: it then does nothing (and never
	// releases a later holder's lock of the same name).
	Release()
	// Lost is closed when the lock ends without Release: the backend lost it
	// or the store was closed. It is never closed by Release.
	Lost() <-chan struct{}
}

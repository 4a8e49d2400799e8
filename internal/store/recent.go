package store

import "context"

// RecentStore keeps IMAP4rev1's \Recent (RFC 3501 2.3.2): a message is
// recent to the first session that is told of it, and to no other. Each
// mailbox has a mark, the lowest UID no session has been given yet; a
// session that selects the mailbox read-write, or is told of new messages
// while it has it selected, claims the UIDs from the mark up to its view's
// UIDNEXT and moves the mark there, in one atomic step, so that of two
// sessions (on any node) only one gets each message. Mailboxes created
// before the mark existed start with nothing recent; new ones with
// everything. IMAP4rev2 (RFC 9051) has no \Recent: its sessions claim
// nothing.
type RecentStore interface {
	// ClaimRecent moves the mailbox's mark up to below and returns where
	// it was: the caller's recent messages are the UIDs in [mark, below).
	// A mark at or above below is returned as it is (nothing to claim).
	// ErrNotFound if the mailbox is not the account's.
	ClaimRecent(ctx context.Context, accountID, mailboxID int64, below uint32) (mark uint32, err error)
	// RecentMark returns the mark and how many messages are at or above it
	// (not yet given to any session: STATUS RECENT, EXAMINE).
	RecentMark(ctx context.Context, accountID, mailboxID int64) (mark, count uint32, err error)
}

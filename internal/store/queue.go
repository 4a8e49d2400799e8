package store

import (
	"context"
	"time"
)

// QueuedMessage is one message in the outbound queue with the recipients it
// still has to reach. A message leaves the queue with its last recipient.
type QueuedMessage struct {
	ID        int64
	From      string // envelope sender; "" for a bounce
	AccountID int64  // sending account for DSNs; 0 if none
	EnvID     string // RFC 3461 ENVID, plain text
	Ret       string // RFC 3461 RET: "FULL", "HDRS" or ""
	Size      int64
	Created   time.Time
	// Recipients still pending, ordered by address. Filled by QueueMessage and
	// QueueList; QueueDue leaves it nil.
	Recipients []QueuedRecipient
}

// QueuedRecipient is one pending recipient of a queued message: its delivery
// state. Times are as the queue's clock gave them, to the second.
type QueuedRecipient struct {
	MessageID     int64
	Address       string
	Domain        string // the address's domain, lower case
	Notify        string // RFC 3461 NOTIFY ("" = not given)
	ORcpt         string // RFC 3461 ORCPT as "type;address", plain text ("" = not given)
	Attempts      int    // failed attempts so far
	NextAttempt   time.Time
	LastAttempt   time.Time // zero before the first attempt
	LastError     string    // the last temporary failure, for the admin and the DSN
	DelayNotified bool      // a "delayed" DSN was sent (RFC 3464 2.3.3)
	// LeaseOwner names the store instance (a process's Store) that leased
	// the recipient in QueueDue to deliver it, "" when none; LeaseUntil is
	// when that lease lapses unless renewed. An expired lease may linger
	// until another instance takes the recipient over.
	LeaseOwner string
	LeaseUntil time.Time
}

// QueueUpdate is the outcome of an attempt for one recipient: either Done
// (delivered, or failed for good and reported), which removes it, or its new
// retry state.
type QueueUpdate struct {
	MessageID     int64
	Address       string
	Done          bool
	Attempts      int
	NextAttempt   time.Time
	LastAttempt   time.Time
	LastError     string
	DelayNotified bool
}

// QueueStore is the durable outbound queue. Like every Store write, a queue
// write returns only after it is durable. Times are passed in by the caller
// (the queue's injectable clock), never read from the store's own clock.
type QueueStore interface {
	// EnqueueOutbound stores m with every recipient due at now and returns the
	// message ID. m.Recipients must not be empty; duplicates are merged.
	EnqueueOutbound(ctx context.Context, m Outbound, now time.Time) (int64, error)
	// QueueDue leases to this store instance, until now + lease, and returns
	// up to limit pending recipients whose NextAttempt is not after now,
	// earliest first. It takes only recipients not leased by another live
	// instance (never leased, leased by this instance, or whose lease has
	// lapsed: LeaseUntil not after now), and none of a domain in which
	// another instance holds a live lease: one recipient domain is worked by
	// one instance at a time, so per-route limits of one node hold across
	// nodes for MX routes (a transport or smarthost route spans domains and
	// may be worked by several nodes at once, one domain each). A lease this
	// instance already holds is renewed when returned; QueueRenew renews all.
	QueueDue(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]QueuedRecipient, error)
	// QueueRenew extends every lease this instance holds to now + lease and
	// reports how many there are: a caller busy delivering keeps its
	// recipients without leasing more.
	QueueRenew(ctx context.Context, now time.Time, lease time.Duration) (int, error)
	// QueueRelease gives up every lease this instance holds, so that another
	// instance takes the recipients over at once (at shutdown) rather than
	// when the leases lapse.
	QueueRelease(ctx context.Context) error
	// QueueNextAttempt returns when QueueDue may next have work for this
	// instance: the earliest NextAttempt of any pending recipient, except
	// that a recipient held by another instance's lease (its own, or its
	// domain's) counts from that lease's end at the earliest (takeover when
	// that instance died). ok is false when the queue is empty.
	QueueNextAttempt(ctx context.Context) (next time.Time, ok bool, err error)
	// QueueMessage returns one message with its pending recipients, or
	// ErrNotFound.
	QueueMessage(ctx context.Context, id int64) (*QueuedMessage, error)
	// QueueMessageData returns a queued message's bytes, or ErrNotFound.
	QueueMessageData(ctx context.Context, id int64) ([]byte, error)
	// QueueList returns every queued message with its recipients, oldest first.
	QueueList(ctx context.Context) ([]QueuedMessage, error)
	// QueueUpdate applies outcomes in one transaction and removes messages left
	// without recipients; an updated recipient's lease ends (a Done one is
	// deleted). An update for a recipient no longer queued (dropped
	// meanwhile) is ignored.
	QueueUpdate(ctx context.Context, updates []QueueUpdate) error
	// QueueRetry makes the recipients of message id (0 = every message) due at
	// now and reports how many recipients it touched; ErrNotFound for an
	// unknown id. Leases stay: a recipient being delivered stays with the
	// instance delivering it.
	QueueRetry(ctx context.Context, id int64, now time.Time) (int, error)
	// QueueDrop removes a message and its recipients without any DSN;
	// ErrNotFound for an unknown id.
	QueueDrop(ctx context.Context, id int64) error
}

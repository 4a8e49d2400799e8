// Package dump holds the rows a store backend exports and another imports
// when an install moves from one backend to another (`gannet migrate`,
// internal/store/migrate). They are the stored columns as they are, ids
// included: a move keeps every account, mailbox and queue id, every UID,
// UIDVALIDITY and MODSEQ, so that clients do not resync (RFC 7162 3.1,
// RFC 9051 2.3.1.1). Plain data, no behaviour: neither backend imports the
// other, both import this.
package dump

import "gannet/internal/store"

// Marks are the high-water marks of the source's id counters: the highest
// id ever given (not the highest still in use), so that the target never
// hands out an id a deleted account or mailbox had (sessions, cookies and
// the POP3 lock name accounts and mailboxes by id).
type Marks struct {
	LastAccountID int64
	LastMailboxID int64
	LastQueueID   int64
	// UIDValidity is the last UIDVALIDITY handed out: a mailbox created on
	// the target must get a larger one.
	UIDValidity int64
}

// Domain is a row of table domains.
type Domain struct {
	Name    string
	Created int64
}

// Account is a row of table accounts, counters and MODSEQ included.
type Account struct {
	ID                        int64
	Address, Domain           string
	Password                  string
	SCRAM                     []byte
	QuotaBytes, QuotaMessages int64
	UsedBytes, UsedMessages   int64
	POP3Policy                string
	ModSeq                    int64
	Disabled                  bool
	Created                   int64
}

// Alias is one (address, target) pair.
type Alias struct{ Address, Target string }

// DKIMKey is a row of table dkim_keys.
type DKIMKey struct {
	Domain, Selector, Algorithm string
	PEM                         []byte
	Created                     int64
}

// Mailbox is a row of table mailboxes, counters included.
type Mailbox struct {
	ID, AccountID                       int64
	Name, SpecialUse                    string
	UIDValidity, UIDNext, HighestModSeq int64
	Messages, Unseen, Deleted, Size     int64
}

// Subscription is a row of table subscriptions.
type Subscription struct {
	AccountID int64
	Name      string
}

// Message is a row of table messages; Blob names its body (hex SHA-256).
type Message struct {
	MailboxID, UID, AccountID, ModSeq int64
	Flags                             int64
	Keywords                          string
	InternalDate, Size                int64
	Blob                              string
	POPHidden                         bool
}

// Tombstone is an expunged message's row (RFC 7162 3.2.10).
type Tombstone struct{ MailboxID, UID, ModSeq int64 }

// Body is a message's content: the stored parse results and the raw bytes.
type Body struct {
	store.Body
	Raw []byte
}

// QueueMessage is a queued outbound message with its recipients. Data is
// the compressed bytes as stored (both backends keep queued messages in
// blobstore's inline framing: independent zstd frames).
type QueueMessage struct {
	ID         int64
	MailFrom   string
	AccountID  int64
	EnvID, Ret string
	Size       int64
	Data       []byte
	Created    int64
	Recipients []QueueRecipient
}

// QueueRecipient is a recipient still to reach, with its attempt state.
type QueueRecipient struct {
	Address, Domain, Notify, ORcpt string
	Attempts                       int64
	NextAttempt, LastAttempt       int64
	LastError                      string
	DelayNotified                  bool
}

// WebSession is a row of table web_sessions.
type WebSession struct {
	TokenHash, Credential []byte
	AccountID             int64
	CSRF                  string
	Created, LastSeen     int64
}

// SieveScript is a row of table sieve_scripts.
type SieveScript struct {
	AccountID int64
	Name      string
	Content   []byte
	Active    bool
	Updated   int64
}

// SieveSeen is a row of table sieve_seen.
type SieveSeen struct {
	AccountID int64
	Kind, Key string
	Expires   int64
}

// Directory is everything but mail and queue: small tables, exported and
// imported whole on every pass.
type Directory struct {
	Marks         Marks
	Domains       []Domain
	Accounts      []Account
	Aliases       []Alias
	DKIMKeys      []DKIMKey
	Mailboxes     []Mailbox
	Subscriptions []Subscription
	WebSessions   []WebSession
	SieveScripts  []SieveScript
	SieveSeen     []SieveSeen
}

// Key names one message.
type Key struct{ MailboxID, UID int64 }

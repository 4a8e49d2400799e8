// Package store defines Gannet's data model and the Store interface that every
// backend (SQLite now, PostgreSQL later) implements, plus the contract test suite
// in storetest that every backend must pass unchanged.
//
// It also holds the engine-neutral core, so that a backend implements only
// its engine's primitives (docs/ARCHITECTURE.md, "store"): name normalisation
// (names.go), flags in their stored form (flags.go), parsing a message once
// for storage (ingest.go), the Go side of SEARCH (search.go), the login cache
// (authcache.go), recipient resolution with its caches over a backend's
// Directory (resolve.go, domaincache.go, resolvecache.go) and special-use
// mailboxes (special.go).
//
// Invariants every backend keeps:
//   - UIDs in a mailbox strictly increase and are never reused, even after expunge;
//     UIDVALIDITY of a mailbox never changes while it exists, and a mailbox deleted
//     and created again under the same name gets a new UIDVALIDITY (RFC 9051 2.3.1.1).
//   - One MODSEQ counter per account, strictly increasing, bumped by every change to
//     any message or mailbox of that account (RFC 7162 3.1).
//   - Expunged messages leave tombstones (mailbox, uid, modseq) so that a client can
//     ask what vanished since a MODSEQ (RFC 7162 3.2.10, VANISHED (EARLIER)).
//   - A write returns only after its transaction is durable (fsynced); concurrent
//     writes may share one transaction and one fsync (group commit).
//   - Change notifications are published only after commit.
//   - Account and mailbox ids are never reused, even after the account or
//     mailbox is deleted: sessions name their account by id, and a new account
//     must never be readable through an old account's session.
//   - Deleting or disabling an account, or changing its password, is recorded
//     in a persistent feed (AuthChanges) that every process sharing the store
//     reads, so that the account's sessions end everywhere.
package store

import (
	"context"
	"errors"
	"io"
	"time"

	"gannet/internal/message"
)

// Typed errors. Backends wrap them; callers test with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrExists        = errors.New("already exists")
	ErrOverQuota     = errors.New("quota exceeded")
	ErrHasChildren   = errors.New("mailbox has children")
	ErrInvalidName   = errors.New("invalid name")
	ErrNotPermitted  = errors.New("operation not permitted")
	ErrAuthFailed    = errors.New("authentication failed")
	ErrInvalidFlag   = errors.New("invalid flag")
	ErrClosed        = errors.New("store closed")
	ErrMailboxLocked = errors.New("mailbox in use")
	// ErrStorageFull: the disk (or the database's size limit) has no room for
	// the write; it may succeed once space is freed.
	ErrStorageFull = errors.New("storage full")
)

// Special-use attributes of mailboxes, RFC 6154.
const (
	SpecialSent    = `\Sent`
	SpecialDrafts  = `\Drafts`
	SpecialTrash   = `\Trash`
	SpecialJunk    = `\Junk`
	SpecialArchive = `\Archive`
)

// DefaultMailboxes are created for every new account, in this order.
var DefaultMailboxes = []struct{ Name, SpecialUse string }{
	{"INBOX", ""},
	{"Sent", SpecialSent},
	{"Drafts", SpecialDrafts},
	{"Trash", SpecialTrash},
	{"Junk", SpecialJunk},
	{"Archive", SpecialArchive},
}

// Separator is the mailbox hierarchy separator.
const Separator = "/"

// POP3 deletion policies (what DELE+QUIT does to a message), per account.
const (
	POP3Delete  = "delete"  // expunge (the default, RFC 1939)
	POP3Archive = "archive" // move to the \Archive mailbox
	POP3Keep    = "keep"    // hide from later POP3 sessions, keep for IMAP and webmail
)

// Domain is a mail domain we receive mail for.
type Domain struct {
	Name    string // lower-case, IDNA A-label form
	Created time.Time
}

// AuthChangesRetention is how long AuthChanges keeps its history.
const AuthChangesRetention = time.Hour

// Account is a mail user. Address is lower-case local@domain.
type Account struct {
	ID            int64
	Address       string
	Domain        string
	PasswordHash  string // argon2id, PHC string format
	SCRAM         []byte // encoded SCRAM-SHA-256 keys (see package password); may be empty
	QuotaBytes    int64  // 0 = unlimited
	QuotaMessages int64  // 0 = unlimited
	UsedBytes     int64
	UsedMessages  int64
	POP3Policy    string
	ModSeq        uint64 // the account's current highest MODSEQ
	Created       time.Time
	// Disabled: the account keeps its mail and keeps receiving mail, but
	// cannot log in (LoginAccount and Authenticate do not find it).
	Disabled bool
}

// Alias maps an address to one or more targets. Address "@domain" is a catch-all.
// Targets may be local accounts, other aliases or remote addresses.
type Alias struct {
	Address string
	Targets []string
}

// Resolution is where mail for one recipient address goes.
type Resolution struct {
	Local  []Account // local accounts (deduplicated)
	Remote []string  // remote addresses from aliases
}

// Mailbox is one folder of an account.
type Mailbox struct {
	ID            int64
	AccountID     int64
	Name          string // UTF-8, "/" separated
	SpecialUse    string
	Subscribed    bool
	UIDValidity   uint32
	UIDNext       uint32
	HighestModSeq uint64
	// Counts, filled by Mailbox/Mailboxes/Status.
	Messages int64
	Unseen   int64
	Deleted  int64
	Size     int64
}

// System flags (RFC 9051 2.3.2). Keywords are any other atom.
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
)

// Message is one message in one mailbox.
type Message struct {
	MailboxID    int64
	UID          uint32
	ModSeq       uint64
	Flags        []string // system flags first, then keywords, sorted
	InternalDate time.Time
	Size         int64
	BlobID       string
	POPHidden    bool            // hidden from POP3 by the "keep" policy
	Parsed       *message.Parsed // only when ListOptions.Parsed
}

// ListOptions selects what List returns.
type ListOptions struct {
	Parsed bool // decode and fill Message.Parsed
	// FlagsOnly fills only UID, ModSeq and Flags (FETCH FLAGS, STORE's
	// answers), which a backend reads at a fraction of a full row's cost
	// (docs/ARCHITECTURE.md, "Huge mailboxes"). Ignored with Parsed.
	FlagsOnly bool
}

// SelectState is a mailbox as SELECT and EXAMINE report it (RFC 9051
// 6.3.1), read in one snapshot without reading its messages' rows, so that
// selecting a mailbox of a million messages costs a few cheap queries
// (docs/ARCHITECTURE.md, "Huge mailboxes").
type SelectState struct {
	Mailbox              // counts, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ
	UIDs        UIDSet   // every message's UID: ascending, disjoint, Hi never 0
	FirstUnseen uint32   // UID of the lowest message without \Seen; 0 = none
	Keywords    []string // keywords set on at least one message, sorted
}

// UIDRange is an inclusive range of UIDs; Hi == 0 means "to the end" (*).
type UIDRange struct{ Lo, Hi uint32 }

// UIDSet is a union of ranges. A nil set means all messages.
type UIDSet []UIDRange

// Contains reports whether uid is in the set (nil set contains everything).
func (s UIDSet) Contains(uid uint32) bool {
	if s == nil {
		return true
	}
	for _, r := range s {
		if uid >= r.Lo && (r.Hi == 0 || uid <= r.Hi) {
			return true
		}
	}
	return false
}

// Recipient is one local destination of a delivery.
type Recipient struct {
	AccountID int64
	Mailbox   string   // mailbox name; "" means INBOX
	Flags     []string // initial flags
}

// Delivery is a message delivered to many local recipients in one transaction.
type Delivery struct {
	Raw          []byte
	InternalDate time.Time // zero = now
	Recipients   []Recipient
}

// AppendMessage is one message of AppendMany. A zero Date means now.
type AppendMessage struct {
	Raw   []byte
	Flags []string
	Date  time.Time
}

// DeliveryResult is the outcome for one recipient, in Delivery.Recipients order.
type DeliveryResult struct {
	MailboxID   int64
	UIDValidity uint32
	UID         uint32
	Err         error // per-recipient refusal, such as ErrOverQuota; nil = stored
}

// FlagOp says how StoreFlags combines the given flags with the current ones.
type FlagOp int

const (
	FlagsSet    FlagOp = iota // replace (FLAGS)
	FlagsAdd                  // +FLAGS
	FlagsRemove               // -FLAGS
)

// FlagUpdate is the result of StoreFlags for one message.
type FlagUpdate struct {
	UID    uint32
	ModSeq uint64
	Flags  []string
}

// StoreResult is what StoreFlags did.
type StoreResult struct {
	Updated  []FlagUpdate // messages whose flags changed (new modseq)
	Modified []uint32     // UIDs that failed UNCHANGEDSINCE (RFC 7162 3.1.3)
}

// CopyResult maps source UIDs to destination UIDs (RFC 4315 COPYUID).
type CopyResult struct {
	UIDValidity uint32
	SrcUIDs     []uint32
	DstUIDs     []uint32
}

// Changes is what changed in a mailbox since a MODSEQ.
type Changes struct {
	HighestModSeq uint64
	Changed       []Message // new or flag-changed messages with modseq > since (no Parsed)
	Vanished      []uint32  // expunged UIDs with tombstone modseq > since, ascending
}

// ChangeKind says what a notification is about.
type ChangeKind int

const (
	ChangeNew     ChangeKind = iota + 1 // messages appended/delivered/copied/moved in
	ChangeFlags                         // flags changed
	ChangeExpunge                       // messages expunged (or moved out)
	ChangeMailbox                       // mailbox created, renamed, deleted, subscribed
)

func (k ChangeKind) String() string {
	switch k {
	case ChangeNew:
		return "new"
	case ChangeFlags:
		return "flags"
	case ChangeExpunge:
		return "expunge"
	case ChangeMailbox:
		return "mailbox"
	}
	return "unknown"
}

// Change is published to subscribers after each committed write.
type Change struct {
	AccountID int64
	MailboxID int64
	ModSeq    uint64
	Kind      ChangeKind
	UIDs      []uint32 // affected UIDs, when known
}

// DateField selects which date a search compares.
type DateField int

const (
	DateInternal DateField = iota // INTERNALDATE (BEFORE, ON, SINCE)
	DateSent                      // Date: header (SENTBEFORE, SENTON, SENTSINCE)
)

// Criteria is a search program, all fields ANDed; zero values mean "no constraint".
// It covers RFC 9051 6.4.4 SEARCH keys; the IMAP server translates to it.
type Criteria struct {
	UIDs       UIDSet       // nil = all
	WithFlags  []string     // all must be set
	WithoutFlg []string     // none may be set
	Header     []HeaderTerm // substring, case-insensitive
	Body       []string     // substring of the decoded body text
	Text       []string     // substring of header or body
	Larger     int64        // size > Larger (when > 0)
	Smaller    int64        // size < Smaller (when > 0)
	Before     *DateTerm
	On         *DateTerm
	Since      *DateTerm
	ModSeq     uint64 // modseq >= ModSeq (RFC 7162 3.1.5), when > 0
	// YoungerThan and OlderThan compare the internal date with an instant,
	// to the second (RFC 5032 WITHIN: YOUNGER n is now minus n seconds):
	// internal date >= YoungerThan, internal date < OlderThan, when set.
	YoungerThan, OlderThan time.Time
	Not                    []Criteria
	Or                     [][2]Criteria
}

// HeaderTerm matches a header field containing Value (Value "" = field present).
type HeaderTerm struct{ Field, Value string }

// DateTerm compares a date, by calendar day in the date's own location
// (RFC 9051 6.4.4: "disregarding time and timezone").
type DateTerm struct {
	Field DateField
	Date  time.Time
}

// Store is the whole persistent state of Gannet. The outbound queue and the
// DKIM keys are part of it: everything a second node must see lives in the
// store (docs/ARCHITECTURE.md).
type Store interface {
	KeyStore
	QueueStore
	Locker      // cluster-wide named locks (locks.go)
	WebSessions // webmail sessions, valid on every node (websessions.go)
	RecentStore // IMAP4rev1's \Recent (recent.go)
	SieveStore  // Sieve scripts and their seen table (sieve.go)

	// Domains.
	AddDomain(ctx context.Context, name string) error
	DeleteDomain(ctx context.Context, name string) error // ErrNotPermitted if accounts remain
	Domains(ctx context.Context) ([]Domain, error)
	IsLocalDomain(ctx context.Context, name string) (bool, error)

	// Accounts. Creating an account creates DefaultMailboxes.
	AddAccount(ctx context.Context, address, password string) (*Account, error)
	DeleteAccount(ctx context.Context, address string) error
	SetPassword(ctx context.Context, address, password string) error
	SetQuota(ctx context.Context, address string, bytes, messages int64) error
	SetPOP3Policy(ctx context.Context, address, policy string) error
	// SetDisabled disables or enables an account. A disabled account cannot
	// log in; its mail is kept and mail to it is still delivered.
	SetDisabled(ctx context.Context, address string, disabled bool) error
	Account(ctx context.Context, address string) (*Account, error)
	AccountByID(ctx context.Context, id int64) (*Account, error)
	Accounts(ctx context.Context) ([]Account, error)
	// LoginAccount is the account a login name names: an address, or a name
	// without a domain, taken in the oldest domain (the earliest created; by
	// name among those created together). ErrNotFound if there is none or it
	// is disabled.
	LoginAccount(ctx context.Context, user string) (*Account, error)
	// Authenticate checks a password for a login name (as LoginAccount);
	// ErrAuthFailed for unknown or disabled account or bad password. A
	// password changed by any process sharing the store takes effect at once.
	Authenticate(ctx context.Context, user, password string) (*Account, error)
	// AuthChanges is the revocation feed: the ids of the accounts deleted,
	// disabled or given a new password after cursor since, by any process
	// sharing the store, and the cursor to pass next time. since < 0 returns
	// just the current cursor. Cheap enough to poll a few times a second.
	// History is kept for at least AuthChangesRetention: a reader whose
	// cursor is older may miss changes.
	AuthChanges(ctx context.Context, since int64) (next int64, accounts []int64, err error)

	// Aliases.
	AddAlias(ctx context.Context, address string, targets []string) error
	DeleteAlias(ctx context.Context, address string) error
	Aliases(ctx context.Context) ([]Alias, error)
	// Resolve maps a recipient address to accounts and remote addresses:
	// exact account, then alias, then user+tag@domain as user@domain, then the
	// domain's catch-all. ErrNotFound when nothing matches.
	Resolve(ctx context.Context, address string) (*Resolution, error)
	// Addresses lists every address that delivers to the account (its own and aliases).
	Addresses(ctx context.Context, accountID int64) ([]string, error)

	// Mailboxes.
	CreateMailbox(ctx context.Context, accountID int64, name, specialUse string) (*Mailbox, error)
	RenameMailbox(ctx context.Context, accountID int64, oldName, newName string) error
	DeleteMailbox(ctx context.Context, accountID int64, name string) error
	SubscribeMailbox(ctx context.Context, accountID int64, name string, subscribed bool) error
	Subscriptions(ctx context.Context, accountID int64) ([]string, error)
	// Mailbox returns one mailbox with counts.
	Mailbox(ctx context.Context, accountID int64, name string) (*Mailbox, error)
	MailboxByID(ctx context.Context, accountID, mailboxID int64) (*Mailbox, error)
	// Mailboxes returns all mailboxes of the account, sorted by name, with counts.
	Mailboxes(ctx context.Context, accountID int64) ([]Mailbox, error)

	// Messages.
	Deliver(ctx context.Context, d Delivery) ([]DeliveryResult, error)
	Append(ctx context.Context, accountID, mailboxID int64, raw []byte, flags []string, date time.Time) (DeliveryResult, error)
	// AppendMany appends messages to one mailbox in one transaction
	// (MULTIAPPEND, RFC 3502; imports): all or none, consecutive UIDs in
	// the given order, one MODSEQ, the quota checked for them together.
	AppendMany(ctx context.Context, accountID, mailboxID int64, msgs []AppendMessage) (uidValidity uint32, uids []uint32, err error)
	Copy(ctx context.Context, accountID, srcMailboxID int64, uids UIDSet, dstMailboxID int64) (*CopyResult, error)
	Move(ctx context.Context, accountID, srcMailboxID int64, uids UIDSet, dstMailboxID int64) (*CopyResult, error)
	StoreFlags(ctx context.Context, accountID, mailboxID int64, uids UIDSet, op FlagOp, flags []string, unchangedSince uint64) (*StoreResult, error)
	// Expunge removes messages flagged \Deleted whose UID is in uids (nil = all of them).
	Expunge(ctx context.Context, accountID, mailboxID int64, uids UIDSet) ([]uint32, error)
	// ExpungeUIDs removes the given messages whatever their flags (POP3 QUIT).
	ExpungeUIDs(ctx context.Context, accountID, mailboxID int64, uids []uint32) ([]uint32, error)
	// SetPOPHidden hides messages from later POP3 sessions (the "keep" policy).
	SetPOPHidden(ctx context.Context, accountID, mailboxID int64, uids []uint32) error
	List(ctx context.Context, accountID, mailboxID int64, uids UIDSet, opts ListOptions) ([]Message, error)
	// ListPage is List of at most limit messages, those with UID above
	// after: the page primitive of ListEach, which streams a set of any
	// size in bounded memory.
	ListPage(ctx context.Context, accountID, mailboxID int64, uids UIDSet, opts ListOptions, after uint32, limit int) ([]Message, error)
	// SelectMailbox reads what SELECT reports of a mailbox, in one snapshot.
	SelectMailbox(ctx context.Context, accountID, mailboxID int64) (*SelectState, error)
	Search(ctx context.Context, accountID, mailboxID int64, c Criteria) ([]uint32, error)
	Changes(ctx context.Context, accountID, mailboxID int64, since uint64) (*Changes, error)

	// Message bytes. Open returns the whole message; OpenRange the bytes
	// [off, off+n) of it, decompressing no more than needed.
	Open(ctx context.Context, blobID string) (io.ReadCloser, error)
	OpenRange(ctx context.Context, blobID string, off, n int64) (io.ReadCloser, error)

	// Subscribe returns the change feed for one account (0 = all accounts).
	Subscribe(accountID int64) Subscription

	// GC removes blobs no message references (and older than a grace period).
	GC(ctx context.Context) (removed int, err error)
	Close() error
}

// Subscription receives Changes in commit order. Slow readers never block writers:
// when a subscriber falls too far behind, changes are dropped and Next reports
// overflowed, and the subscriber must resynchronise from the store.
type Subscription interface {
	C() <-chan struct{}                        // signalled when Next may return changes
	Next() (changes []Change, overflowed bool) // drains pending changes
	Close()
}

package sieve

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// Env is what the caller supplies to a run: callbacks into the store and the
// facts a script may test. Every field may be left zero; the doc of each says
// what that means.
type Env struct {
	// Now is the current time (currentdate, RFC 5260 5); nil means time.Now.
	Now func() time.Time
	// Location is the time zone dates are shown in when a date test has no
	// :zone (RFC 5260 4); nil means UTC.
	Location *time.Location
	// MailboxExists answers mailboxexists (RFC 5490 3.1); nil: no mailbox exists.
	MailboxExists func(ctx context.Context, mailbox string) (bool, error)
	// Duplicate reports whether id was seen within period and records it
	// (RFC 7352 3); with last, the period runs from the last time id was
	// seen, else from the first (:last, 3.4). The caller should drop the
	// record if delivery fails. nil: never a duplicate.
	Duplicate func(ctx context.Context, id string, period time.Duration, last bool) (bool, error)
	// VacationSent reports whether a vacation reply for handle was already
	// sent to sender within period (RFC 5230 4.2, 4.6); the caller records the
	// replies it sends. nil: never replied.
	VacationSent func(ctx context.Context, handle, sender string, period time.Duration) (bool, error)
	// Include loads the source of a script for include (RFC 6609 3.2); global
	// selects :global over :personal. It returns an error wrapping
	// ErrNoScript when there is no such script. nil: include always fails.
	Include func(ctx context.Context, name string, global bool) ([]byte, error)
	// Addresses are the user's own addresses, besides Envelope.To: vacation
	// never answers them and needs one of them in the recipients (RFC 5230 4.5).
	Addresses []string
	// Spam is the spamtest value 0..10 (RFC 5235 3.2: 0 = not tested, 1 =
	// surely not spam, 10 = surely spam); SpamPercent the spamtestplus value
	// 0..100 with SpamTested telling whether there was a test (3.3). Virus is
	// the virustest value 0..5 (3.4: 0 = not tested).
	Spam        int
	SpamPercent int
	SpamTested  bool
	Virus       int
	// Environment holds the items of the environment test (RFC 5183 4:
	// "domain", "host", "location", "name", "phase", "remote-host",
	// "remote-ip", "version"); a missing item makes the test false.
	Environment map[string]string
	// DuplicatePeriod is the default :seconds of duplicate; zero means 7 days.
	DuplicatePeriod time.Duration
}

// ErrNoScript is what Env.Include wraps when a script does not exist.
var ErrNoScript = errors.New("sieve: no such script")

// Kind names an action.
type Kind string

// The actions a run can produce.
const (
	Keep     Kind = "keep"     // deliver to INBOX (RFC 5228 4.3)
	FileInto Kind = "fileinto" // deliver to Mailbox (RFC 5228 4.1)
	Redirect Kind = "redirect" // forward to Address (RFC 5228 4.2)
	Reject   Kind = "reject"   // refuse with Reason (RFC 5429 2.2): a DSN or SMTP 5xx
	EReject  Kind = "ereject"  // refuse at SMTP time if possible (RFC 5429 2.1)
	Discard  Kind = "discard"  // recorded for logs: only cancels the implicit keep (RFC 5228 4.4); other deliveries in the list still happen
	Reply    Kind = "vacation" // send Vacation (RFC 5230)
	Notify   Kind = "notify"   // send Notification (RFC 5435, mailto: RFC 5436)
)

// Action is one thing the caller must do.
type Action struct {
	Kind     Kind
	Mailbox  string    // FileInto
	Create   bool      // FileInto: create Mailbox if missing (RFC 5490 3.2)
	Flags    []string  // Keep, FileInto: IMAP flags to set (RFC 5232 5)
	Copy     bool      // FileInto, Redirect with :copy (RFC 3894)
	Address  string    // Redirect
	Reason   string    // Reject, EReject
	Implicit bool      // Keep: the implicit keep (RFC 5228 2.10.2)
	Vacation *Vacation // Reply
	Notify   *Notification
}

// Result is what a run decided.
type Result struct {
	Actions []Action
	// Header is the message's header after addheader/deleteheader (RFC 5293),
	// ending with the blank line, to replace the original header bytes when
	// HeaderEdited is true.
	Header       []byte
	HeaderEdited bool
}

// result collects actions while a script runs and applies RFC 5228 2.10
// rules as they are added.
type result struct {
	actions      []Action
	implicitKeep bool
	redirects    int
	maxActions   int
	maxRedirects int
}

// add records an action: equal deliveries collapse into one (RFC 5228 2.10.3:
// keep after fileinto "INBOX" or a second fileinto of one mailbox delivers
// once; their flags are merged), and a redirect to an address already
// redirected to is dropped (4.2). Reject is incompatible with keep, fileinto,
// vacation and another reject (RFC 5429 2.2, 2.3; RFC 5230 4.7).
func (r *result) add(a Action) error {
	for _, b := range r.actions {
		if conflict(a.Kind, b.Kind) {
			return errors.New(string(a.Kind) + " cannot be combined with " + string(b.Kind))
		}
	}
	switch a.Kind {
	case FileInto, Keep:
		for i := range r.actions {
			b := &r.actions[i]
			if (b.Kind == FileInto || b.Kind == Keep) && sameMailbox(b.mailbox(), a.mailbox()) {
				b.Flags = mergeFlags(b.Flags, a.Flags)
				b.Copy = b.Copy && a.Copy
				b.Create = b.Create || a.Create
				if !a.Copy {
					r.implicitKeep = false
				}
				return nil
			}
		}
	case Redirect:
		for _, b := range r.actions {
			if b.Kind == Redirect && strings.EqualFold(b.Address, a.Address) {
				if !a.Copy {
					r.implicitKeep = false
				}
				return nil
			}
		}
		if r.redirects >= r.maxRedirects {
			return errors.New("too many redirects")
		}
		r.redirects++
	case Reply:
		for _, b := range r.actions {
			if b.Kind == Reply {
				return errors.New("vacation used twice")
			}
		}
	case Notify:
		// RFC 5435 3.8: identical notifications are sent once.
		for _, b := range r.actions {
			if b.Kind == Notify && b.Notify.same(a.Notify) {
				return nil
			}
		}
	case Discard:
		r.implicitKeep = false
		if slices.ContainsFunc(r.actions, func(b Action) bool { return b.Kind == Discard }) {
			return nil
		}
	}
	if len(r.actions) >= r.maxActions {
		return errors.New("too many actions")
	}
	if !a.Copy && a.Kind != Reply && a.Kind != Notify {
		r.implicitKeep = false
	}
	r.actions = append(r.actions, a)
	return nil
}

func (a Action) mailbox() string {
	if a.Kind == Keep {
		return "INBOX"
	}
	return a.Mailbox
}

func conflict(a, b Kind) bool {
	refuse := func(k Kind) bool { return k == Reject || k == EReject }
	deliver := func(k Kind) bool { return k == Keep || k == FileInto || k == Reply }
	return refuse(a) && (refuse(b) || deliver(b)) || refuse(b) && deliver(a)
}

// sameMailbox compares mailbox names; INBOX is case-insensitive (RFC 3501 5.1).
func sameMailbox(a, b string) bool {
	if strings.EqualFold(a, "INBOX") && strings.EqualFold(b, "INBOX") {
		return true
	}
	return a == b
}

// mergeFlags returns the union of two flag lists, IMAP flags being
// case-insensitive (RFC 5232 3).
func mergeFlags(a, b []string) []string {
	out := slices.Clone(a)
	for _, f := range b {
		if !slices.ContainsFunc(out, func(g string) bool { return strings.EqualFold(f, g) }) {
			out = append(out, f)
		}
	}
	return out
}

// splitFlags splits flag strings at spaces and removes duplicates (RFC 5232 3).
func splitFlags(list []string) []string {
	var out []string
	for _, s := range list {
		out = mergeFlags(out, strings.Fields(s))
	}
	return out
}

func removeFlags(from, del []string) []string {
	return slices.DeleteFunc(slices.Clone(from), func(f string) bool {
		return slices.ContainsFunc(del, func(d string) bool { return strings.EqualFold(f, d) })
	})
}

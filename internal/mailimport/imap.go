package mailimport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"gannet/internal/store"
)

// IMAP reads mail from another IMAP server (`gannet import imap`) with
// emersion's imapclient: LIST for the folders (RFC 9051 6.3.9) with their
// special use (RFC 6154), then per folder SELECT, UID SEARCH for the UIDs
// after those already imported, and UID FETCH in batches of (FLAGS
// INTERNALDATE BODY.PEEK[]), so that nothing is marked \Seen on the source.
// A message is read into memory only when its RFC822.SIZE (asked first)
// is within Limits.MaxSize, and at most that much of it is read; a larger
// one is a *SkipError. cmd/gannet/importimap.go records per folder the
// UIDVALIDITY and the highest UID imported (IMAPState), so a rerun fetches
// only what is new.
type IMAP struct {
	c    *imapclient.Client
	host string
	lim  Limits
}

// IMAPOptions say where and how to connect.
type IMAPOptions struct {
	// URL is imaps://user@host[:port] (implicit TLS, port 993) or
	// imap://user@host[:port] (STARTTLS, port 143; plain text is never
	// used). A user name with "@" is written %40.
	URL      string
	Password string
	// Insecure accepts any certificate (a self-signed one on a private
	// server, tests). The connection is still encrypted.
	Insecure bool
	Limits   Limits
}

// ParseIMAPURL checks an IMAP source URL and returns the address to dial,
// the user, and whether TLS is implicit.
func ParseIMAPURL(s string) (addr, user string, implicitTLS bool, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", false, fmt.Errorf("source %q: %w", s, err)
	}
	port := ""
	switch u.Scheme {
	case "imaps":
		implicitTLS, port = true, "993"
	case "imap":
		port = "143"
	default:
		return "", "", false, fmt.Errorf("source %q: the scheme must be imaps:// or imap:// (STARTTLS)", s)
	}
	if u.User == nil || u.User.Username() == "" {
		return "", "", false, fmt.Errorf("source %q: no user name (imaps://user@host)", s)
	}
	if _, has := u.User.Password(); has {
		return "", "", false, fmt.Errorf("source %q: give the password on standard input, not in the URL", redact(u))
	}
	if u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", "", false, fmt.Errorf("source %q: want imaps://user@host[:port]", s)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	return net.JoinHostPort(u.Hostname(), port), u.User.Username(), implicitTLS, nil
}

func redact(u *url.URL) string {
	c := *u
	c.User = url.User(u.User.Username())
	return c.String()
}

// DialIMAP connects and logs in. ctx bounds the connection and login; a
// session that ctx ends later is closed by Close.
func DialIMAP(ctx context.Context, o IMAPOptions) (*IMAP, error) {
	addr, user, implicit, err := ParseIMAPURL(o.URL)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(addr)
	opts := &imapclient.Options{
		TLSConfig: &tls.Config{ServerName: host, InsecureSkipVerify: o.Insecure, MinVersion: tls.VersionTLS12},
		Dialer:    &net.Dialer{Timeout: 30 * time.Second},
	}
	type result struct {
		c   *imapclient.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		var c *imapclient.Client
		var err error
		if implicit {
			c, err = imapclient.DialTLS(addr, opts)
		} else {
			c, err = imapclient.DialStartTLS(addr, opts)
		}
		if err == nil {
			if err = c.WaitGreeting(); err == nil {
				err = c.Login(user, o.Password).Wait()
			}
			if err != nil {
				c.Close()
			}
		}
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("imap %s as %s: %w", addr, user, r.err)
		}
		return &IMAP{c: r.c, host: host, lim: o.Limits.withDefaults()}, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// Close logs out and closes the connection.
func (s *IMAP) Close() error {
	_ = s.c.Logout().Wait()
	return s.c.Close()
}

// abort closes the connection at once, without LOGOUT (a FETCH may be
// half read); Close is then a no-op that reports the closed connection.
func (s *IMAP) abort() { s.c.Close() }

// watch closes the connection when ctx ends, so that a command waiting on
// the server returns; call the function it returns when done.
func (s *IMAP) watch(ctx context.Context) func() {
	stop := context.AfterFunc(ctx, func() { s.c.Close() })
	return func() { stop() }
}

// RemoteFolder is a folder of the source server.
type RemoteFolder struct {
	Name   string // on the server, decoded, in its own hierarchy
	Target string // the store name it is imported as ("/" levels; special folders renamed, see Folders)
	Use    string // its special use (RFC 6154), "" for none
}

// Folders lists the source's selectable folders, INBOX first. The
// personal namespace's prefix (RFC 2342: Courier's and Cyrus's "INBOX.")
// is taken off the names, and folders in other users' or shared
// namespaces are left out. A folder with a special use (\Sent, \Drafts,
// \Trash, \Junk, \Archive) is imported into the account's mailbox with
// that use, whatever either is called, and its subfolders under it:
// Target names it by the use's default name ("Sent"), which the Importer
// maps to the account's mailbox. Virtual folders (\All, \Flagged: copies
// of mail in other folders, RFC 6154 2) are left out.
func (s *IMAP) Folders(ctx context.Context) ([]RemoteFolder, error) {
	defer s.watch(ctx)()
	personal, others := "", []string(nil)
	if s.c.Caps().Has(imap.CapNamespace) {
		ns, err := s.c.Namespace().Wait()
		if err != nil {
			return nil, fmt.Errorf("imap NAMESPACE: %w", err)
		}
		if len(ns.Personal) > 0 {
			personal = ns.Personal[0].Prefix
		}
		for _, d := range append(ns.Other, ns.Shared...) {
			if d.Prefix != "" {
				others = append(others, d.Prefix)
			}
		}
	}
	opts := &imap.ListOptions{}
	if s.c.Caps().Has(imap.CapSpecialUse) {
		opts.ReturnSpecialUse = true
	}
	list, err := s.c.List("", "*", opts).Collect()
	if err != nil {
		return nil, fmt.Errorf("imap LIST: %w", err)
	}
	type entry struct {
		name   string
		levels []string // below the personal prefix
		delim  string
		use    string
	}
	var all []entry
	special := map[string]string{} // remote name → use
	for _, l := range list {
		e := entry{name: l.Mailbox}
		skip := false
		for _, a := range l.Attrs {
			switch a {
			case imap.MailboxAttrNoSelect, imap.MailboxAttrNonExistent, imap.MailboxAttrAll, imap.MailboxAttrFlagged:
				skip = true
			case imap.MailboxAttrSent, imap.MailboxAttrDrafts, imap.MailboxAttrTrash, imap.MailboxAttrJunk, imap.MailboxAttrArchive:
				e.use = string(a)
			}
		}
		for _, p := range others {
			if strings.HasPrefix(l.Mailbox, p) {
				skip = true
			}
		}
		if e.use != "" {
			special[e.name] = e.use
		}
		if skip {
			continue
		}
		rel := l.Mailbox
		if !strings.EqualFold(rel, "INBOX") && personal != "" && strings.HasPrefix(rel, personal) {
			rel = rel[len(personal):]
		}
		e.levels = []string{rel}
		if l.Delim != 0 {
			e.delim = string(l.Delim)
			e.levels = strings.Split(rel, e.delim)
		}
		all = append(all, e)
	}
	var out []RemoteFolder
	for _, e := range all {
		levels := make([]string, len(e.levels))
		for i, lv := range e.levels {
			levels[i] = strings.ReplaceAll(lv, store.Separator, "_")
		}
		if strings.EqualFold(e.name, "INBOX") {
			levels = []string{"INBOX"}
		}
		// The deepest special folder at or above this one names the start.
		prefix := strings.TrimSuffix(e.name, strings.Join(e.levels, e.delim)) // personal or ""
		for i := len(e.levels); i > 0; i-- {
			if use, ok := special[prefix+strings.Join(e.levels[:i], e.delim)]; ok {
				levels = append([]string{store.DefaultMailboxName(use)}, levels[i:]...)
				break
			}
		}
		out = append(out, RemoteFolder{Name: e.name, Target: strings.Join(levels, store.Separator), Use: e.use})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Name, out[j].Name
		if strings.EqualFold(a, "INBOX") != strings.EqualFold(b, "INBOX") {
			return strings.EqualFold(a, "INBOX")
		}
		return a < b
	})
	return out, nil
}

// Select opens a folder read-only (EXAMINE: the import changes nothing on
// the source) and returns its UIDVALIDITY.
func (s *IMAP) Select(ctx context.Context, name string) (uint32, error) {
	defer s.watch(ctx)()
	d, err := s.c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return 0, fmt.Errorf("imap EXAMINE %s: %w", name, err)
	}
	return d.UIDValidity, nil
}

// UIDsAfter lists the selected folder's UIDs above after, ascending.
func (s *IMAP) UIDsAfter(ctx context.Context, after uint32) ([]uint32, error) {
	defer s.watch(ctx)()
	var set imap.UIDSet
	set.AddRange(imap.UID(after+1), 0) // after+1:*
	d, err := s.c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("imap UID SEARCH: %w", err)
	}
	var out []uint32
	for _, u := range d.AllUIDs() {
		if uint32(u) > after { // "n:*" includes the last message even below n
			out = append(out, uint32(u))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Fetch returns a Source of the messages with the given UIDs of the
// selected folder f. Sizes are asked first; messages over the limit are
// skipped without fetching their bodies.
func (s *IMAP) Fetch(ctx context.Context, f RemoteFolder, uids []uint32) (Source, error) {
	stop := s.watch(ctx)
	defer stop()
	var set imap.UIDSet
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}
	sizes, err := s.c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("imap UID FETCH sizes: %w", err)
	}
	b := &imapBatch{s: s, f: f, ctx: ctx}
	var want imap.UIDSet
	for _, m := range sizes {
		if m.RFC822Size > s.lim.MaxSize {
			b.skips = append(b.skips, &SkipError{Pos: s.pos(f, uint32(m.UID)), Reason: ReasonTooLarge,
				Detail: fmt.Sprintf("%d bytes, larger than %d", m.RFC822Size, s.lim.MaxSize)})
			continue
		}
		want.AddNum(m.UID)
	}
	if len(want) > 0 {
		b.stop = s.watch(ctx)
		b.cmd = s.c.Fetch(want, &imap.FetchOptions{UID: true, Flags: true, InternalDate: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	}
	return b, nil
}

func (s *IMAP) pos(f RemoteFolder, uid uint32) Position {
	return Position{File: fmt.Sprintf("imap://%s/%s UID %d", s.host, f.Name, uid), Offset: -1}
}

// imapBatch is one UID FETCH read as a Source.
type imapBatch struct {
	s     *IMAP
	f     RemoteFolder
	ctx   context.Context
	skips []*SkipError
	cmd   *imapclient.FetchCommand
	stop  func()
}

func (b *imapBatch) Next() (*Message, error) {
	if len(b.skips) > 0 {
		e := b.skips[0]
		b.skips = b.skips[1:]
		return nil, e
	}
	if b.cmd == nil {
		return nil, io.EOF
	}
	md := b.cmd.Next()
	if md == nil {
		err := b.cmd.Close()
		b.cmd = nil
		b.stop()
		if err != nil {
			if b.ctx.Err() != nil {
				return nil, b.ctx.Err()
			}
			return nil, fmt.Errorf("imap UID FETCH in %s: %w", b.f.Name, err)
		}
		return nil, io.EOF
	}
	msg := &Message{Mailbox: b.f.Target}
	var uid uint32
	var body []byte
	var readErr error
	tooLarge := false
	for {
		item := md.Next()
		if item == nil {
			break
		}
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			uid = uint32(it.UID)
		case imapclient.FetchItemDataFlags:
			for _, f := range it.Flags {
				if !strings.EqualFold(string(f), `\Recent`) { // session state (RFC 3501 2.3.2), gone in RFC 9051
					msg.Flags = append(msg.Flags, string(f))
				}
			}
		case imapclient.FetchItemDataInternalDate:
			msg.Date = it.Time
		case imapclient.FetchItemDataBodySection:
			if it.Literal == nil {
				continue
			}
			// At most MaxSize+1 bytes, whatever the literal announces; the
			// rest is drained by the client.
			body, readErr = io.ReadAll(io.LimitReader(it.Literal, b.s.lim.MaxSize+1))
			if int64(len(body)) > b.s.lim.MaxSize {
				tooLarge, body = true, nil
			}
			_, _ = io.Copy(io.Discard, it.Literal)
		}
	}
	msg.Pos = b.s.pos(b.f, uid)
	switch {
	case readErr != nil:
		return nil, fmt.Errorf("imap UID FETCH %s: %w", msg.Pos, readErr)
	case tooLarge:
		return nil, &SkipError{Pos: msg.Pos, Reason: ReasonTooLarge, Detail: fmt.Sprintf("larger than %d bytes", b.s.lim.MaxSize)}
	case body == nil:
		return nil, &SkipError{Pos: msg.Pos, Reason: ReasonUnreadable, Detail: "the server sent no body"}
	}
	raw, err := normalise(make([]byte, 0, len(body)+len(body)/32), body, b.s.lim.MaxLine)
	switch {
	case errors.Is(err, errLongLine):
		return nil, &SkipError{Pos: msg.Pos, Reason: ReasonLongLine, Detail: fmt.Sprintf("a line is longer than %d bytes", b.s.lim.MaxLine)}
	case int64(len(raw)) > b.s.lim.MaxSize:
		return nil, &SkipError{Pos: msg.Pos, Reason: ReasonTooLarge, Detail: fmt.Sprintf("larger than %d bytes", b.s.lim.MaxSize)}
	case len(raw) == 0:
		return nil, &SkipError{Pos: msg.Pos, Reason: ReasonEmpty}
	}
	msg.Raw = raw
	msg.Flags = validFlags(msg.Flags)
	return msg, nil
}

package imapserver

import (
	"strings"

	"gannet/internal/imapwire"
	"gannet/internal/store"
)

// listOptions are LIST's selection and return options (RFC 5258 3, RFC 5819,
// RFC 6154 5).
type listOptions struct {
	selSubscribed, selSpecial, recursive bool
	retSubscribed, retSpecial            bool
	status                               []string // LIST-STATUS items, nil = none
}

// cmdList is LIST (RFC 9051 6.3.9) with LIST-EXTENDED (RFC 5258), LIST-STATUS
// (RFC 5819), SPECIAL-USE (RFC 6154) and CHILDREN (RFC 3348) attributes.
func (c *conn) cmdList(cmd *command) error {
	p := cmd.p
	var o listOptions
	if err := p.SP(); err != nil {
		return err
	}
	if p.Peek() == '(' {
		err := p.List(func() error {
			kw, err := p.Keyword()
			if err != nil {
				return err
			}
			switch kw {
			case "SUBSCRIBED":
				o.selSubscribed = true
			case "SPECIAL-USE":
				o.selSpecial = true
			case "RECURSIVEMATCH":
				o.recursive = true
			case "REMOTE":
			default:
				return p.Fail("unknown LIST selection option")
			}
			return nil
		})
		if err != nil {
			return err
		}
		if o.recursive && !o.selSubscribed {
			// RFC 5258 3: RECURSIVEMATCH needs another selection option.
			return p.Fail("RECURSIVEMATCH needs SUBSCRIBED")
		}
		if err := p.SP(); err != nil {
			return err
		}
	}
	// The reference is read like a pattern, so that one that is not
	// modified UTF-7 matches nothing rather than failing the command.
	ref, err := p.ListMailbox()
	if err != nil {
		return err
	}
	if err := p.SP(); err != nil {
		return err
	}
	var patterns []string
	if p.Peek() == '(' {
		err = p.List(func() error {
			pat, err := p.ListMailbox()
			patterns = append(patterns, pat)
			return err
		})
	} else {
		var pat string
		pat, err = p.ListMailbox()
		patterns = append(patterns, pat)
	}
	if err != nil {
		return err
	}
	if p.Accept(' ') {
		if !p.AcceptWord("RETURN") {
			return p.Fail("expected RETURN")
		}
		if err := p.SP(); err != nil {
			return err
		}
		err := p.List(func() error {
			kw, err := p.Keyword()
			if err != nil {
				return err
			}
			switch kw {
			case "SUBSCRIBED":
				o.retSubscribed = true
			case "CHILDREN":
			case "SPECIAL-USE":
				o.retSpecial = true
			case "STATUS":
				if err := p.SP(); err != nil {
					return err
				}
				o.status, err = parseStatusItems(p)
				return err
			default:
				return p.Fail("unknown LIST return option")
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := p.End(); err != nil {
		return err
	}
	if len(patterns) == 1 && patterns[0] == "" && !o.selSubscribed && !o.selSpecial {
		// RFC 9051 6.3.9: the hierarchy delimiter and root.
		w := c.out()
		w.Untagged()
		w.Atom("LIST")
		w.Flags([]string{`\Noselect`})
		w.String(store.Separator)
		w.String("")
		return w.CRLF()
	}
	for i, pat := range patterns {
		patterns[i] = canonicalPattern(joinRef(ref, pat))
	}
	return c.listMailboxes(patterns, o, "LIST")
}

// listMailboxes writes the LIST (or LSUB) responses for the mailboxes
// matching any pattern.
func (c *conn) listMailboxes(patterns []string, o listOptions, verb string) error {
	mbs, err := c.srv.opts.Store.Mailboxes(c.ctx, c.acct.ID)
	if err != nil {
		return storeErr(err)
	}
	exists := make(map[string]*store.Mailbox, len(mbs))
	hasChildren := map[string]bool{}
	for i := range mbs {
		exists[mbs[i].Name] = &mbs[i]
		if k := strings.LastIndex(mbs[i].Name, store.Separator); k > 0 {
			hasChildren[mbs[i].Name[:k]] = true
		}
	}
	var subscribed map[string]bool
	if o.selSubscribed || o.retSubscribed || verb == "LSUB" {
		subs, err := c.srv.opts.Store.Subscriptions(c.ctx, c.acct.ID)
		if err != nil {
			return storeErr(err)
		}
		subscribed = make(map[string]bool, len(subs))
		for _, s := range subs {
			subscribed[s] = true
		}
	}
	matches := func(name string) bool {
		for _, pat := range patterns {
			if matchPattern(pat, name) {
				return true
			}
		}
		return false
	}
	// The names to list, in order: existing mailboxes, then (with the
	// SUBSCRIBED selection) subscribed names that do not exist.
	var names []string
	childInfo := map[string]bool{}
	for _, mb := range mbs {
		if o.selSpecial && mb.SpecialUse == "" {
			continue
		}
		if o.selSubscribed && !subscribed[mb.Name] {
			continue
		}
		if matches(mb.Name) {
			names = append(names, mb.Name)
		}
	}
	if o.selSubscribed {
		for s := range subscribed {
			if exists[s] == nil && matches(s) {
				names = append(names, s)
			}
		}
		if o.recursive {
			// RFC 5258 3.5 and 4 (CHILDINFO): a mailbox that matches the
			// pattern and has a subscribed descendant that does not match
			// it (so is not listed itself) is returned with CHILDINFO
			// ("SUBSCRIBED"), whether or not it is subscribed itself; with
			// "*" every descendant is listed itself and no parent gets
			// CHILDINFO.
			listed := make(map[string]bool, len(names))
			for _, n := range names {
				listed[n] = true
			}
			for s := range subscribed {
				if matches(s) {
					continue
				}
				for k := strings.LastIndex(s, store.Separator); k > 0; k = strings.LastIndex(s[:k], store.Separator) {
					parent := s[:k]
					if !matches(parent) || childInfo[parent] {
						continue
					}
					childInfo[parent] = true
					if !listed[parent] {
						listed[parent] = true
						names = append(names, parent)
					}
				}
			}
		}
	}
	w := c.out()
	for _, name := range names {
		mb := exists[name]
		var attrs []string
		switch {
		case mb == nil:
			// RFC 9051 7.3.1 (the table of LIST attributes and CHILDINFO):
			// a name listed for its subscription or for CHILDINFO that is
			// no mailbox is \NonExistent.
			attrs = append(attrs, `\NonExistent`)
			if hasChildren[name] {
				attrs = append(attrs, `\HasChildren`)
			}
		case hasChildren[name]:
			attrs = append(attrs, `\HasChildren`)
		default:
			attrs = append(attrs, `\HasNoChildren`)
		}
		if verb == "LSUB" {
			attrs = attrs[:0]
		}
		if subscribed[name] && (o.selSubscribed || o.retSubscribed) && verb == "LIST" {
			attrs = append(attrs, `\Subscribed`)
		}
		if mb != nil && mb.SpecialUse != "" && verb == "LIST" {
			attrs = append(attrs, mb.SpecialUse)
		}
		w.Untagged()
		w.Atom(verb)
		w.Flags(attrs)
		w.String(store.Separator)
		w.Mailbox(name)
		if childInfo[name] {
			w.BeginList()
			w.String("CHILDINFO")
			w.BeginList()
			w.String("SUBSCRIBED")
			w.EndList()
			w.EndList()
		}
		w.CRLF()
		if o.status != nil && mb != nil {
			c.writeStatus(mb, o.status)
		}
	}
	return w.Err()
}

// joinRef combines LIST's reference and pattern (RFC 9051 6.3.9): the
// pattern is taken relative to the reference unless it is absolute.
func joinRef(ref, pat string) string {
	if ref == "" || strings.HasPrefix(pat, store.Separator) {
		return pat
	}
	if strings.HasSuffix(ref, store.Separator) {
		return ref + pat
	}
	return ref + store.Separator + pat
}

// canonicalPattern upper-cases a leading "INBOX" so that it matches the
// mailbox INBOX, whose name is case-insensitive (RFC 9051 5.1).
func canonicalPattern(pat string) string {
	if len(pat) >= 5 && strings.EqualFold(pat[:5], "INBOX") && (len(pat) == 5 || pat[5] == '/') {
		return "INBOX" + pat[5:]
	}
	return pat
}

// matchPattern matches name against a LIST pattern: "*" matches anything,
// "%" anything but the separator (RFC 9051 6.3.9).
func matchPattern(pat, name string) bool {
	for len(pat) > 0 {
		switch pat[0] {
		case '*', '%':
			wild := pat[0]
			rest := pat[1:]
			for i := 0; i <= len(name); i++ {
				if matchPattern(rest, name[i:]) {
					return true
				}
				if i < len(name) && wild == '%' && name[i] == '/' {
					return false
				}
			}
			return false
		default:
			if len(name) == 0 || name[0] != pat[0] {
				return false
			}
			pat, name = pat[1:], name[1:]
		}
	}
	return len(name) == 0
}

// parseStatusItems reads STATUS items (RFC 9051 6.3.11), shared by STATUS and
// LIST-STATUS (RFC 5819).
func parseStatusItems(p *imapwire.Parser) ([]string, error) {
	items := []string{}
	err := p.List(func() error {
		kw, err := p.Keyword()
		if err != nil {
			return err
		}
		switch kw {
		case "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "HIGHESTMODSEQ", "RECENT", "APPENDLIMIT":
			items = append(items, kw)
			return nil
		}
		return p.Fail("unknown status item")
	})
	if err == nil && len(items) == 0 {
		return nil, p.Fail("empty status item list")
	}
	return items, err
}

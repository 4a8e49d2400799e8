package imapserver

import (
	"slices"
	"strings"
)

// Keywords announced before use (RFC 3501 7.2.6, RFC 9051 7.3.5): a client
// learns the flags in use from FLAGS and PERMANENTFLAGS at SELECT, and some
// (Thunderbird among them) drop or mishandle a keyword that a FETCH shows
// before any FLAGS response named it. So the session keeps the keywords it
// has announced, and a FETCH carrying a new one (a first STORE of it, by
// this session or another, an APPEND, a COPY or a delivery with it) is
// preceded by a new FLAGS and PERMANENTFLAGS.

// announceKeywords writes FLAGS and PERMANENTFLAGS when flags hold a
// keyword the session has not announced yet.
func (c *conn) announceKeywords(flags []string) {
	s := c.sel
	if s == nil {
		return
	}
	fresh := false
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			continue
		}
		k := strings.ToLower(f)
		if _, ok := s.keywords[k]; ok {
			continue
		}
		if s.keywords == nil {
			s.keywords = map[string]string{}
		}
		s.keywords[k] = f
		fresh = true
	}
	if fresh {
		c.writeFlagLists()
	}
}

// writeFlagLists writes "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]"
// with the system flags and every keyword announced.
func (c *conn) writeFlagLists() {
	s := c.sel
	flags := systemFlags()
	kws := make([]string, 0, len(s.keywords))
	for _, k := range s.keywords {
		kws = append(kws, k)
	}
	slices.Sort(kws)
	flags = append(flags, kws...)
	w := c.out()
	w.Untagged()
	w.Atom("FLAGS")
	w.Flags(flags)
	w.CRLF()
	w.Untagged()
	w.Atom("OK")
	w.BeginCode("PERMANENTFLAGS")
	if s.readOnly {
		w.Flags(nil)
	} else {
		w.Flags(append(flags, `\*`))
	}
	w.EndCode()
	w.Text("Flags permitted")
	w.CRLF()
}

// wantsFlags reports whether the FETCH asks for FLAGS.
func (r *fetchRequest) wantsFlags() bool {
	for _, it := range r.items {
		if it.kind == fetchFlags {
			return true
		}
	}
	return false
}

package imapserver

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"gannet/internal/imapwire"
	"gannet/internal/store"
)

// maxSearchKeys bounds the search keys of one command, nested ones
// included. Each BODY or TEXT key is a scan of every candidate message's
// text: 6,500 of them over a 1 MB message cost ~11 CPU-seconds (issue 13,
// finding 8). Real clients send a handful; Dovecot-like limits are in the
// hundreds to thousands.
const maxSearchKeys = 1000

// maxSearchDepth bounds the nesting of parentheses, NOT and OR.
const maxSearchDepth = 32

// searchParser turns RFC 9051 6.4.4 search keys into store.Criteria.
type searchParser struct {
	c      *conn
	p      *imapwire.Parser
	modseq bool // a MODSEQ key was used (RFC 7162 3.1.5)
	n      int  // keys read so far
}

// none is a criterion no message matches.
func none() store.Criteria { return store.Criteria{UIDs: store.UIDSet{}} }

// recent is the criterion RECENT: the session's recent UIDs (recent.go);
// none under IMAP4rev2 or with nothing recent.
func (sp *searchParser) recent() store.Criteria {
	s := sp.c.sel
	if sp.c.rev2 || s == nil || len(s.recent) == 0 {
		return none()
	}
	return store.Criteria{UIDs: slices.Clone(s.recent)}
}

// and adds sub to c: list fields are appended, a scalar already set is
// nested as NOT NOT sub, which is sub.
func and(c *store.Criteria, sub store.Criteria) {
	simple := sub.UIDs == nil && sub.Larger == 0 && sub.Smaller == 0 && sub.Before == nil &&
		sub.On == nil && sub.Since == nil && sub.ModSeq == 0 && sub.YoungerThan.IsZero() && sub.OlderThan.IsZero()
	if !simple && (c.UIDs != nil && sub.UIDs != nil || c.Larger != 0 && sub.Larger != 0 ||
		c.Smaller != 0 && sub.Smaller != 0 || c.Before != nil && sub.Before != nil ||
		c.On != nil && sub.On != nil || c.Since != nil && sub.Since != nil ||
		c.ModSeq != 0 && sub.ModSeq != 0 ||
		!c.YoungerThan.IsZero() && !sub.YoungerThan.IsZero() || !c.OlderThan.IsZero() && !sub.OlderThan.IsZero()) {
		c.Not = append(c.Not, store.Criteria{Not: []store.Criteria{sub}})
		return
	}
	c.WithFlags = append(c.WithFlags, sub.WithFlags...)
	c.WithoutFlg = append(c.WithoutFlg, sub.WithoutFlg...)
	c.Header = append(c.Header, sub.Header...)
	c.Body = append(c.Body, sub.Body...)
	c.Text = append(c.Text, sub.Text...)
	c.Not = append(c.Not, sub.Not...)
	c.Or = append(c.Or, sub.Or...)
	if sub.UIDs != nil {
		c.UIDs = sub.UIDs
	}
	if sub.Larger != 0 {
		c.Larger = sub.Larger
	}
	if sub.Smaller != 0 {
		c.Smaller = sub.Smaller
	}
	if sub.Before != nil {
		c.Before = sub.Before
	}
	if sub.On != nil {
		c.On = sub.On
	}
	if sub.Since != nil {
		c.Since = sub.Since
	}
	if sub.ModSeq != 0 {
		c.ModSeq = sub.ModSeq
	}
	if !sub.YoungerThan.IsZero() {
		c.YoungerThan = sub.YoungerThan
	}
	if !sub.OlderThan.IsZero() {
		c.OlderThan = sub.OlderThan
	}
}

// keys reads search-key *(SP search-key) up to the end of the command or a
// closing parenthesis, ANDed.
func (sp *searchParser) keys(depth int) (store.Criteria, error) {
	var c store.Criteria
	for {
		k, err := sp.key(depth)
		if err != nil {
			return c, err
		}
		and(&c, k)
		if !sp.p.Accept(' ') {
			return c, nil
		}
	}
}

// key reads one search-key (RFC 9051 9: search-key).
func (sp *searchParser) key(depth int) (store.Criteria, error) {
	p := sp.p
	if depth > maxSearchDepth {
		return store.Criteria{}, p.Fail("search keys nested too deeply")
	}
	if sp.n++; sp.n > maxSearchKeys {
		// RFC 5530 3: LIMIT, an implementation limit was reached. The rest
		// of the command is skipped by the loop, as after BADCHARSET.
		return store.Criteria{}, errNo("LIMIT", "Too many search keys (at most "+strconv.Itoa(maxSearchKeys)+")")
	}
	switch ch := p.Peek(); {
	case ch == '(':
		var c store.Criteria
		err := p.List(func() error {
			k, err := sp.key(depth + 1)
			and(&c, k)
			return err
		})
		return c, err
	case ch == '*' || ch == '$' || ('0' <= ch && ch <= '9'):
		ns, err := p.SeqSet()
		if err != nil {
			return store.Criteria{}, err
		}
		set, err := sp.c.searchNumSet(ns)
		return store.Criteria{UIDs: set}, err
	}
	kw, err := p.Keyword()
	if err != nil {
		return store.Criteria{}, err
	}
	flag := func(f string, with bool) (store.Criteria, error) {
		if with {
			return store.Criteria{WithFlags: []string{f}}, nil
		}
		return store.Criteria{WithoutFlg: []string{f}}, nil
	}
	str := func() (string, error) {
		if err := p.SP(); err != nil {
			return "", err
		}
		return p.AString()
	}
	header := func(field string) (store.Criteria, error) {
		v, err := str()
		return store.Criteria{Header: []store.HeaderTerm{{Field: field, Value: v}}}, err
	}
	date := func(f store.DateField) (*store.DateTerm, error) {
		if err := p.SP(); err != nil {
			return nil, err
		}
		d, err := p.Date()
		return &store.DateTerm{Field: f, Date: d}, err
	}
	switch kw {
	case "ALL":
		return store.Criteria{}, nil
	case "ANSWERED":
		return flag(store.FlagAnswered, true)
	case "DELETED":
		return flag(store.FlagDeleted, true)
	case "DRAFT":
		return flag(store.FlagDraft, true)
	case "FLAGGED":
		return flag(store.FlagFlagged, true)
	case "SEEN":
		return flag(store.FlagSeen, true)
	case "UNANSWERED":
		return flag(store.FlagAnswered, false)
	case "UNDELETED":
		return flag(store.FlagDeleted, false)
	case "UNDRAFT":
		return flag(store.FlagDraft, false)
	case "UNFLAGGED":
		return flag(store.FlagFlagged, false)
	case "UNSEEN":
		return flag(store.FlagSeen, false)
	case "KEYWORD", "UNKEYWORD":
		if err := p.SP(); err != nil {
			return store.Criteria{}, err
		}
		k, err := p.Flag()
		if err != nil {
			return store.Criteria{}, err
		}
		return flag(k, kw == "KEYWORD")
	case "RECENT":
		return sp.recent(), nil
	case "NEW": // RECENT UNSEEN (RFC 3501 6.4.4)
		c := sp.recent()
		c.WithoutFlg = []string{store.FlagSeen}
		return c, nil
	case "OLD": // NOT RECENT
		return store.Criteria{Not: []store.Criteria{sp.recent()}}, nil
	case "BCC", "CC", "FROM", "SUBJECT", "TO":
		return header(strings.ToLower(kw))
	case "HEADER":
		f, err := str()
		if err != nil {
			return store.Criteria{}, err
		}
		return header(strings.ToLower(f))
	case "BODY":
		v, err := str()
		return store.Criteria{Body: []string{v}}, err
	case "TEXT":
		v, err := str()
		return store.Criteria{Text: []string{v}}, err
	case "BEFORE", "SENTBEFORE":
		d, err := date(dateField(kw))
		return store.Criteria{Before: d}, err
	case "ON", "SENTON":
		d, err := date(dateField(kw))
		return store.Criteria{On: d}, err
	case "SINCE", "SENTSINCE":
		d, err := date(dateField(kw))
		return store.Criteria{Since: d}, err
	case "LARGER", "SMALLER":
		if err := p.SP(); err != nil {
			return store.Criteria{}, err
		}
		n, err := p.Number64()
		if err != nil {
			return store.Criteria{}, err
		}
		if kw == "LARGER" {
			return store.Criteria{Larger: int64(n)}, nil
		}
		if n == 0 {
			return none(), nil
		}
		return store.Criteria{Smaller: int64(n)}, nil
	case "YOUNGER", "OLDER":
		// RFC 5032 (WITHIN): an interval in seconds before now, compared
		// with the internal date to the second.
		if err := p.SP(); err != nil {
			return store.Criteria{}, err
		}
		n, err := p.NZNumber()
		if err != nil {
			return store.Criteria{}, err
		}
		at := time.Now().Add(-time.Duration(n) * time.Second)
		if kw == "YOUNGER" {
			return store.Criteria{YoungerThan: at}, nil
		}
		return store.Criteria{OlderThan: at}, nil
	case "UID":
		if err := p.SP(); err != nil {
			return store.Criteria{}, err
		}
		ns, err := p.SeqSet()
		if err != nil {
			return store.Criteria{}, err
		}
		set, err := sp.c.numSet(ns, true)
		return store.Criteria{UIDs: set}, err
	case "NOT":
		if err := p.SP(); err != nil {
			return store.Criteria{}, err
		}
		k, err := sp.key(depth + 1)
		return store.Criteria{Not: []store.Criteria{k}}, err
	case "OR":
		if err := p.SP(); err != nil {
			return store.Criteria{}, err
		}
		a, err := sp.key(depth + 1)
		if err != nil {
			return store.Criteria{}, err
		}
		if err := p.SP(); err != nil {
			return store.Criteria{}, err
		}
		b, err := sp.key(depth + 1)
		return store.Criteria{Or: [][2]store.Criteria{{a, b}}}, err
	case "MODSEQ":
		// RFC 7162 3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer;
		// flags have no separate mod-sequences here, so the entry is ignored.
		if err := p.SP(); err != nil {
			return store.Criteria{}, err
		}
		if p.Peek() == '"' {
			if _, err := p.String(); err != nil {
				return store.Criteria{}, err
			}
			if err := p.SP(); err != nil {
				return store.Criteria{}, err
			}
			t, err := p.Atom()
			if err != nil {
				return store.Criteria{}, err
			}
			if t = strings.ToLower(t); t != "priv" && t != "shared" && t != "all" {
				return store.Criteria{}, p.Fail("invalid MODSEQ entry type")
			}
			if err := p.SP(); err != nil {
				return store.Criteria{}, err
			}
		}
		n, err := p.Number64()
		if err != nil {
			return store.Criteria{}, err
		}
		sp.modseq = true
		sp.c.enableCondstore()
		if n == 0 {
			return store.Criteria{}, nil
		}
		return store.Criteria{ModSeq: n}, nil
	}
	return store.Criteria{}, p.Fail("unknown search key")
}

func dateField(kw string) store.DateField {
	if strings.HasPrefix(kw, "SENT") {
		return store.DateSent
	}
	return store.DateInternal
}

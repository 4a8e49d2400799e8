package sieve

import (
	"errors"
	"net/url"
	"slices"
	"strings"

	"gannet/internal/message"
)

// enotify (RFC 5435) with the mailto method (RFC 5436), the only method
// offered. The engine decides and fills in the notification; sending it is
// the caller's job, like vacation's.

// Notification is what a notify action asks for.
type Notification struct {
	Method     string   // the notification URI as written
	To         []string // mailto recipients (RFC 5436 2.2)
	Headers    map[string]string
	From       string // :from, else "" for the caller's default (RFC 5436 2.3)
	Importance string // "1" high, "2" normal (the default), "3" low (RFC 5435 3.5)
	Options    []string
	Message    string // :message, else the original's subject (RFC 5436 2.6)
}

func (n *Notification) same(o *Notification) bool {
	return n.Method == o.Method && n.From == o.From && n.Importance == o.Importance &&
		n.Message == o.Message && slices.Equal(n.Options, o.Options)
}

// mailto is a parsed mailto: URI (RFC 6068).
type mailto struct {
	to      []string
	headers map[string]string
}

// parseMailto accepts a mailto URI with at least one valid recipient.
func parseMailto(s string) (mailto, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || !strings.EqualFold(u.Scheme, "mailto") {
		return mailto{}, errors.New("only mailto: notification URIs are supported")
	}
	var m mailto
	if u.Opaque != "" {
		p, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return mailto{}, errors.New("malformed mailto: URI")
		}
		for _, a := range strings.Split(p, ",") {
			m.to = append(m.to, strings.TrimSpace(a))
		}
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return mailto{}, errors.New("malformed mailto: URI")
	}
	for k, vs := range q {
		k = strings.ToLower(k)
		if k == "to" {
			for _, v := range vs {
				m.to = append(m.to, strings.Split(v, ",")...)
			}
			continue
		}
		// RFC 5436 2.2: these are set by the notifier, never by the URI.
		switch k {
		case "from", "auto-submitted", "received", "return-path", "sender":
			continue
		}
		if m.headers == nil {
			m.headers = map[string]string{}
		}
		m.headers[k] = vs[0]
	}
	if len(m.to) == 0 {
		return mailto{}, errors.New("mailto: URI without a recipient")
	}
	for _, a := range m.to {
		if !validAddress(strings.TrimSpace(a)) {
			return mailto{}, errors.New("mailto: URI with an invalid recipient")
		}
	}
	return m, nil
}

// notify records a notification (RFC 5435 3). RFC 5436 2.7: no
// notification about auto-submitted mail, to avoid loops.
func (st *runState) notify(fr *frame, n *cnode) error {
	method := fr.str(st, n.args[0])
	m, err := parseMailto(method)
	if err != nil {
		return st.errAt(fr, n, "notify: %v", err)
	}
	for _, v := range headerValues(st.header, "auto-submitted") {
		if !strings.EqualFold(strings.TrimSpace(strings.Split(v, ";")[0]), "no") {
			return nil
		}
	}
	imp := "2"
	if a, ok := n.tags["importance"]; ok {
		imp = fr.str(st, a)
		if imp != "1" && imp != "2" && imp != "3" {
			return st.errAt(fr, n, `notify :importance must be "1", "2" or "3"`)
		}
	}
	msg := fr.str(st, n.tags["message"])
	if _, ok := n.tags["message"]; !ok {
		msg = strings.TrimSpace(message.DecodeHeader(first(headerValues(st.header, "subject"))))
	}
	return st.add(fr, n, Action{Kind: Notify, Notify: &Notification{
		Method: method, To: m.to, Headers: m.headers, From: fr.str(st, n.tags["from"]),
		Importance: imp, Options: fr.list(st, n.tags["options"]), Message: msg,
	}})
}

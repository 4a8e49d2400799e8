package sieve

import (
	"strconv"
	"strings"
	"time"

	"gannet/internal/message"
)

// test evaluates a test (RFC 5228 5 and the extensions' tests).
func (st *runState) test(fr *frame, n *cnode) (bool, error) {
	if err := st.step(fr, n); err != nil {
		return false, err
	}
	switch n.name {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "not":
		ok, err := st.test(fr, n.tests[0])
		return !ok, err
	case "allof", "anyof":
		all := n.name == "allof"
		for _, t := range n.tests {
			ok, err := st.test(fr, t)
			if err != nil {
				return false, err
			}
			if ok != all { // RFC 5228 5.2, 5.3: stop at the first deciding test
				return ok, nil
			}
		}
		return all, nil
	case "exists":
		for _, name := range fr.list(st, n.args[0]) {
			if len(headerValues(st.header, name)) == 0 {
				return false, nil
			}
		}
		return true, nil
	case "size":
		limit := n.args[0].num
		size := uint64(st.msg.Size())
		if n.has("over") {
			return size > limit, nil
		}
		return size < limit, nil
	case "header":
		var vals []string
		for _, name := range fr.list(st, n.args[0]) {
			for _, v := range pickIndex(n, headerValues(st.header, name)) {
				vals = append(vals, message.DecodeHeader(v)) // RFC 5228 5.7: decode RFC 2047
			}
		}
		return st.match(fr, n, vals, n.args[1])
	case "address":
		var vals []string
		for _, name := range fr.list(st, n.args[0]) {
			for _, v := range pickIndex(n, headerValues(st.header, name)) {
				for _, a := range parseAddresses(v) {
					if p, ok := a.part(n); ok {
						vals = append(vals, p)
					}
				}
			}
		}
		return st.match(fr, n, vals, n.args[1])
	case "envelope":
		var vals []string
		for _, part := range fr.list(st, n.args[0]) {
			var a addrOf
			switch strings.ToLower(part) {
			case "from":
				a = splitAddress(st.msg.env.From)
			case "to":
				a = splitAddress(st.msg.env.To)
			default:
				continue
			}
			if a.local == "" && a.domain == "" { // the null reverse-path (RFC 5228 5.4)
				vals = append(vals, "")
				continue
			}
			if p, ok := a.part(n); ok {
				vals = append(vals, p)
			}
		}
		return st.match(fr, n, vals, n.args[1])
	case "body":
		types := []string{"text"}
		if a, ok := n.tags["content"]; ok {
			types = fr.list(st, a)
		}
		vals := st.msg.bodyTexts(n, types, st.opts.MaxMatchBytes)
		return st.match(fr, n, vals, n.args[0])
	case "date":
		return st.match(fr, n, st.dateValues(fr, n), n.args[2])
	case "currentdate":
		loc := st.zone(fr, n)
		return st.match(fr, n, []string{datePart(st.now.In(loc), fr.str(st, n.args[0]))}, n.args[1])
	case "string":
		var vals []string
		for _, v := range fr.list(st, n.args[0]) {
			if v != "" || n.mt != "count" { // RFC 5229 5: empty strings do not count
				vals = append(vals, v)
			}
		}
		return st.match(fr, n, vals, n.args[1])
	case "hasflag":
		flags := st.flags
		if n.args[0].kind != argAbsent {
			flags = nil
			for _, name := range fr.list(st, n.args[0]) {
				flags = mergeFlags(flags, strings.Fields(fr.get(st, strings.ToLower(name))))
			}
		}
		return st.match(fr, n, flags, n.args[1])
	case "mailboxexists":
		for _, mb := range fr.list(st, n.args[0]) {
			if st.env.MailboxExists == nil {
				return false, nil
			}
			ok, err := st.env.MailboxExists(st.ctx, mb)
			if err != nil {
				return false, st.errAt(fr, n, "mailboxexists: cannot check %q", mb)
			}
			if !ok {
				return false, nil
			}
		}
		return true, nil
	case "duplicate":
		return st.duplicate(fr, n)
	case "spamtest":
		v := strconv.Itoa(min(max(st.env.Spam, 0), 10))
		if n.has("percent") {
			v = strconv.Itoa(min(max(st.env.SpamPercent, 0), 100))
			if !st.env.SpamTested {
				v = "0"
			}
		}
		return st.match(fr, n, []string{v}, n.args[0])
	case "virustest":
		return st.match(fr, n, []string{strconv.Itoa(min(max(st.env.Virus, 0), 5))}, n.args[0])
	case "valid_notify_method":
		for _, u := range fr.list(st, n.args[0]) {
			if _, err := parseMailto(u); err != nil {
				return false, nil
			}
		}
		return true, nil
	case "notify_method_capability":
		// RFC 5436 2.4: whether a mailto recipient is online is unknown.
		if _, err := parseMailto(fr.str(st, n.args[0])); err != nil ||
			!strings.EqualFold(fr.str(st, n.args[1]), "online") {
			return false, nil
		}
		return st.match(fr, n, []string{"maybe"}, n.args[2])
	case "environment":
		v, ok := st.env.Environment[strings.ToLower(fr.str(st, n.args[0]))]
		if !ok {
			return false, nil
		}
		return st.match(fr, n, []string{v}, n.args[1])
	}
	return false, st.errAt(fr, n, "test %q is not implemented", n.name)
}

// match compares values with the keys (RFC 5228 2.7: true when any value
// matches any key; :count counts the values). A successful :matches sets the
// match variables (RFC 5229 3.2).
func (st *runState) match(fr *frame, n *cnode, vals []string, keyArg argument) (bool, error) {
	keys := fr.list(st, keyArg)
	if n.mt == "count" {
		return matchCount(n, len(vals), keys), nil
	}
	for _, v := range vals {
		for _, k := range keys {
			ok, caps, err := matchOne(n, v, k, &st.work)
			if err != nil {
				return false, st.errAt(fr, n, "%v", err)
			}
			if ok {
				if n.mt == "matches" && fr.script.caps["variables"] {
					fr.match = caps
				}
				return true, nil
			}
		}
	}
	return false, nil
}

// duplicate implements RFC 7352 3: the id is :uniqueid, the :header's value
// or the Message-ID, prefixed by :handle; no id makes the test false.
func (st *runState) duplicate(fr *frame, n *cnode) (bool, error) {
	var id string
	switch {
	case n.has("uniqueid"):
		id = fr.str(st, n.tags["uniqueid"])
	default:
		name := "message-id"
		if a, ok := n.tags["header"]; ok {
			name = fr.str(st, a)
		}
		vals := headerValues(st.header, name)
		if len(vals) == 0 {
			return false, nil
		}
		id = strings.TrimSpace(message.DecodeHeader(vals[0]))
	}
	if id == "" || st.env.Duplicate == nil {
		return false, nil
	}
	period := st.env.DuplicatePeriod
	if period <= 0 {
		period = 7 * 24 * time.Hour
	}
	if a, ok := n.tags["seconds"]; ok {
		period = time.Duration(min(a.num, 10*365*24*3600)) * time.Second
	}
	key := "handle:" + fr.str(st, n.tags["handle"]) + "\x00id:" + id
	dup, err := st.env.Duplicate(st.ctx, key, period, n.has("last"))
	if err != nil {
		return false, st.errAt(fr, n, "duplicate: tracking failed")
	}
	return dup, nil
}

package message

import (
	"net/mail"
	"strings"
	"time"
)

// Placeholders for an address that lacks a part, as Dovecot writes them: an
// empty Host would turn the address into a group marker (RFC 9051 7.5.2).
const (
	missingMailbox = "MISSING_MAILBOX"
	missingDomain  = "MISSING_DOMAIN"
)

// envelopeFields collects the first occurrence of each envelope field of a
// header (RFC 9051 7.5.2 uses one value per field).
type envelopeFields struct {
	date, subject, from, sender, replyTo, to, cc, bcc, inReplyTo, messageID *rawField
}

func (e *envelopeFields) slot(raw []byte, f rawField) **rawField {
	n := f.name(raw)
	switch len(n) {
	case 2:
		if f.isName(raw, "to") {
			return &e.to
		}
		if f.isName(raw, "cc") {
			return &e.cc
		}
	case 3:
		if f.isName(raw, "bcc") {
			return &e.bcc
		}
	case 4:
		if f.isName(raw, "date") {
			return &e.date
		}
		if f.isName(raw, "from") {
			return &e.from
		}
	case 6:
		if f.isName(raw, "sender") {
			return &e.sender
		}
	case 7:
		if f.isName(raw, "subject") {
			return &e.subject
		}
	case 8:
		if f.isName(raw, "reply-to") {
			return &e.replyTo
		}
	case 10:
		if f.isName(raw, "message-id") {
			return &e.messageID
		}
	case 11:
		if f.isName(raw, "in-reply-to") {
			return &e.inReplyTo
		}
	}
	return nil
}

func (e *envelopeFields) add(raw []byte, f rawField) {
	if s := e.slot(raw, f); s != nil && *s == nil {
		c := f
		*s = &c
	}
}

func fieldText(raw []byte, f *rawField) string {
	if f == nil {
		return ""
	}
	return convert8bit([]byte(unfold(f.value(raw))))
}

func (e *envelopeFields) envelope(raw []byte) Envelope {
	env := Envelope{
		Date:      fieldText(raw, e.date),
		Subject:   fieldText(raw, e.subject),
		From:      parseAddressList(fieldText(raw, e.from)),
		Sender:    parseAddressList(fieldText(raw, e.sender)),
		ReplyTo:   parseAddressList(fieldText(raw, e.replyTo)),
		To:        parseAddressList(fieldText(raw, e.to)),
		Cc:        parseAddressList(fieldText(raw, e.cc)),
		Bcc:       parseAddressList(fieldText(raw, e.bcc)),
		InReplyTo: fieldText(raw, e.inReplyTo),
		MessageID: fieldText(raw, e.messageID),
	}
	// RFC 9051 7.5.2 / RFC 3501 7.4.2: an absent or empty Sender or Reply-To
	// is set to the From value.
	if len(env.Sender) == 0 && len(env.From) > 0 {
		env.Sender = append([]Address(nil), env.From...)
	}
	if len(env.ReplyTo) == 0 && len(env.From) > 0 {
		env.ReplyTo = append([]Address(nil), env.From...)
	}
	return env
}

// addrToken is one lexical token of an address list (RFC 5322 3.2, 3.4).
type addrToken struct {
	kind byte   // 'a' atom (dots included), 'q' quoted-string, 'l' domain literal, 'c' comment, or a special: < > : ; , @
	text string // unescaped content; for 'l' with brackets
}

func tokenizeAddresses(s string) []addrToken {
	var toks []addrToken
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case ' ', '\t', '\r', '\n':
			i++
		case '<', '>', ':', ';', ',', '@':
			toks = append(toks, addrToken{kind: c})
			i++
		case '"':
			var b strings.Builder
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
				i++
			}
			i++ // closing quote, or past the end when unterminated
			toks = append(toks, addrToken{kind: 'q', text: b.String()})
		case '(':
			var b strings.Builder
			depth := 1
			i++
			for i < len(s) && depth > 0 {
				switch s[i] {
				case '\\':
					if i+1 < len(s) {
						i++
					}
				case '(':
					depth++
				case ')':
					depth--
				}
				if depth > 0 {
					b.WriteByte(s[i])
				}
				i++
			}
			toks = append(toks, addrToken{kind: 'c', text: b.String()})
		case '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				j = len(s) - i - 1
			}
			toks = append(toks, addrToken{kind: 'l', text: s[i : i+j+1]})
			i += j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n<>:;,@\"([", rune(s[j])) {
				j++
			}
			if j == i { // a lone ')' or ']'
				j++
			}
			toks = append(toks, addrToken{kind: 'a', text: s[i:j]})
			i = j
		}
	}
	return toks
}

func isWord(t addrToken) bool { return t.kind == 'a' || t.kind == 'q' || t.kind == 'l' }

// phrase joins the words of toks with single spaces and decodes RFC 2047
// encoded-words, also inside quoted strings (not allowed by RFC 2047 5, but
// common). Comments are skipped.
func phrase(toks []addrToken) string {
	var words []string
	for _, t := range toks {
		if isWord(t) {
			words = append(words, t.text)
		}
	}
	return DecodeHeader(strings.Join(words, " "))
}

// comment returns the decoded text of the last comment in toks, the obsolete
// "addr (Name)" form of a display name.
func comment(toks []addrToken) string {
	for i := len(toks) - 1; i >= 0; i-- {
		if toks[i].kind == 'c' {
			return DecodeHeader(strings.TrimSpace(toks[i].text))
		}
	}
	return ""
}

// concat joins token texts without separators: a local part or a domain.
func concat(toks []addrToken) string {
	var b strings.Builder
	for _, t := range toks {
		if isWord(t) {
			b.WriteString(t.text)
		}
	}
	return b.String()
}

// splitAddrSpec splits "local@domain" tokens at the last '@'.
func splitAddrSpec(toks []addrToken) (mailbox, host string) {
	at := -1
	for i, t := range toks {
		if t.kind == '@' {
			at = i
		}
	}
	if at < 0 {
		return concat(toks), ""
	}
	return concat(toks[:at]), concat(toks[at+1:])
}

func newAddress(name, mailbox, host string) Address {
	if mailbox == "" {
		mailbox = missingMailbox
	}
	if host == "" {
		host = missingDomain
	}
	return Address{Name: name, Mailbox: mailbox, Host: host}
}

// MaxAddresses bounds each envelope address list (a group's markers count):
// a hostile header of "<a," repeats would otherwise store ten times its size.
const MaxAddresses = 1000

// parseAddressList parses an RFC 5322 3.4 address-list leniently, keeping
// groups as IMAP wants them (RFC 9051 7.5.2): a group is Address{Mailbox:
// name} (no Host) followed by its members and the empty Address{}. It never
// fails: unparseable pieces become addresses with MISSING_* placeholders or
// are dropped when they hold no word at all. It stops after about
// MaxAddresses entries, closing an open group.
func parseAddressList(s string) []Address {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	toks := tokenizeAddresses(s)
	var out []Address
	inGroup := false
	nextGT := 0 // index of the next '>' token, -1 when there is none
	// bare emits an address written without angle brackets.
	bare := func(ph []addrToken) {
		words := 0
		for _, t := range ph {
			if isWord(t) {
				words++
			}
		}
		if words == 0 {
			return
		}
		mb, host := splitAddrSpec(ph)
		name := comment(ph)
		// "John Doe john@example.com": the last word before '@' is the local part.
		if at := indexKind(ph, '@'); at > 1 && name == "" {
			last := at - 1
			for last >= 0 && !isWord(ph[last]) {
				last--
			}
			if last > 0 && ph[last].kind == 'a' && !strings.HasPrefix(ph[last].text, ".") &&
				!strings.HasSuffix(ph[last-1].text, ".") && isWord(ph[last-1]) {
				name = phrase(ph[:last])
				mb = concat(ph[last:at])
			}
		}
		out = append(out, newAddress(name, mb, host))
	}
	for i := 0; i < len(toks) && len(out) < MaxAddresses; {
		j := i
		for j < len(toks) && (isWord(toks[j]) || toks[j].kind == 'c' || toks[j].kind == '@') {
			j++
		}
		ph := toks[i:j]
		if j == len(toks) {
			bare(ph)
			break
		}
		switch toks[j].kind {
		case ':':
			if name := phrase(ph); !inGroup && indexKind(ph, '@') < 0 && name != "" {
				// RFC 5322 3.4 group: display-name ":" [group-list] ";"
				out = append(out, Address{Mailbox: name})
				inGroup = true
			} else {
				bare(ph)
			}
			i = j + 1
		case ';':
			bare(ph)
			if inGroup {
				out = append(out, Address{})
				inGroup = false
			}
			i = j + 1
		case ',', '>':
			bare(ph)
			i = j + 1
		case '<':
			// nextGT only moves forward, so an unterminated '<' does not
			// rescan the rest of the list for every address.
			if nextGT != -1 && nextGT <= j {
				nextGT = j + 1 + indexKind(toks[j+1:], '>')
				if nextGT == j {
					nextGT = -1
				}
			}
			k := nextGT
			if k < 0 { // unterminated: stop at the next separator
				k = j + 1
				for k < len(toks) && toks[k].kind != ',' && toks[k].kind != ';' {
					k++
				}
			}
			inner := toks[j+1 : k]
			// RFC 5322 4.4 obs-route "@a,@b:" before the addr-spec: kept
			// for the ENVELOPE's adl (RFC 3501 7.4.2), split off the
			// addr-spec.
			route := ""
			if c := lastKind(inner, ':'); c >= 0 {
				route = routeText(inner[:c])
				inner = inner[c+1:]
			}
			name := phrase(ph)
			if k < len(toks) && toks[k].kind == '>' {
				k++
			}
			// Skip trailing junk up to the next separator, keeping a comment as name.
			rest := k
			for rest < len(toks) && toks[rest].kind != ',' && toks[rest].kind != ';' {
				rest++
			}
			if name == "" {
				name = comment(toks[k:rest])
			}
			mb, host := splitAddrSpec(inner)
			if mb != "" || host != "" || name != "" {
				a := newAddress(name, mb, host)
				a.Route = route
				out = append(out, a)
			}
			i = rest
		}
	}
	if inGroup {
		out = append(out, Address{})
	}
	return out
}

// routeText is an obs-route's domain list, "@a,@b" (RFC 5322 4.4:
// obs-domain-list), or "" when the tokens are not one.
func routeText(toks []addrToken) string {
	var b strings.Builder
	for _, t := range toks {
		switch {
		case t.kind == '@' || t.kind == ',':
			b.WriteByte(t.kind)
		case t.kind == 'a' || t.kind == 'l':
			b.WriteString(t.text)
		case t.kind == 'c':
		default:
			return ""
		}
	}
	r := strings.Trim(b.String(), ",")
	if !strings.HasPrefix(r, "@") || len(r) > 255 {
		return ""
	}
	return r
}

func indexKind(toks []addrToken, k byte) int {
	for i, t := range toks {
		if t.kind == k {
			return i
		}
	}
	return -1
}

func lastKind(toks []addrToken, k byte) int {
	for i := len(toks) - 1; i >= 0; i-- {
		if toks[i].kind == k {
			return i
		}
	}
	return -1
}

// obsZone returns the offset in seconds of an RFC 5322 4.3 obsolete zone
// name (plus UTC and Z).
func obsZone(name string) (int, bool) {
	switch strings.ToUpper(name) {
	case "UT", "UTC", "GMT", "Z":
		return 0, true
	case "EST":
		return -5 * 3600, true
	case "EDT":
		return -4 * 3600, true
	case "CST":
		return -6 * 3600, true
	case "CDT":
		return -5 * 3600, true
	case "MST":
		return -7 * 3600, true
	case "MDT":
		return -6 * 3600, true
	case "PST":
		return -8 * 3600, true
	case "PDT":
		return -7 * 3600, true
	}
	return 0, false
}

// parseDate parses a Date: value (RFC 5322 3.3) leniently: net/mail first,
// then the value normalised (one space between tokens, zone names and
// "GMT+0200" turned into numeric zones, a zone name after a numeric zone
// dropped) against a few formats seen in the wild. A value without a zone is
// taken as UTC. It returns the zero time if nothing fits.
func parseDate(s string) time.Time {
	s = strings.TrimSpace(stripComments(s))
	if s == "" {
		return time.Time{}
	}
	if t, ok := parseDateFast(s); ok {
		return t
	}
	return parseDateSlow(s)
}

// parseDateFast parses the form nearly every message uses, "[Mon, ]2 Jan 2006
// 15:04:05 -0700" (RFC 5322 3.3) with single spaces (two before a one-digit
// day, as Postfix writes it), by hand: net/mail tries
// layouts in turn, allocating an error for each miss, and was a twentieth of
// the parse at delivery. ok is false for anything else, which parseDateSlow
// then reads as before.
func parseDateFast(s string) (t time.Time, ok bool) {
	if len(s) > 5 && s[3] == ',' && s[4] == ' ' {
		switch s[:3] {
		case "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun":
			s = s[5:]
		default:
			return time.Time{}, false
		}
	}
	// Postfix (and strftime's %e) pad a one-digit day with a space:
	// "Mon,  7 Dec 2026"; folding white space is allowed there (RFC 5322 3.3).
	if len(s) > 2 && s[0] == ' ' && s[1] != ' ' {
		s = s[1:]
	}
	// D[D] Mon YYYY HH:MM:SS +hhmm
	dl := strings.IndexByte(s, ' ')
	if dl < 1 || dl > 2 || len(s) != dl+24 {
		return time.Time{}, false
	}
	day, ok1 := digits(s[:dl])
	mon := monthIndex(s[dl+1 : dl+4])
	r := s[dl+4:] // " YYYY HH:MM:SS +hhmm"
	if !ok1 || mon == 0 || r[0] != ' ' || r[5] != ' ' || r[8] != ':' || r[11] != ':' || r[14] != ' ' ||
		(r[15] != '+' && r[15] != '-') {
		return time.Time{}, false
	}
	year, ok2 := digits(r[1:5])
	hour, ok3 := digits(r[6:8])
	min, ok4 := digits(r[9:11])
	sec, ok5 := digits(r[12:14])
	zh, ok6 := digits(r[16:18])
	zm, ok7 := digits(r[18:20])
	if !(ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || year < 1000 || hour > 23 || min > 59 || sec > 59 ||
		zh > 14 || zm > 59 || day < 1 || day > daysIn(time.Month(mon), year) {
		return time.Time{}, false
	}
	off := zh*3600 + zm*60
	if r[15] == '-' {
		off = -off
	}
	return time.Date(year, time.Month(mon), day, hour, min, sec, 0, time.FixedZone("", off)), true
}

// digits parses a short run of ASCII digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}

// monthIndex is 1 to 12 for "Jan" to "Dec", as RFC 5322 spells them; 0 otherwise.
func monthIndex(s string) int {
	const names = "JanFebMarAprMayJunJulAugSepOctNovDec"
	for i := 0; i < 12; i++ {
		if names[3*i:3*i+3] == s {
			return i + 1
		}
	}
	return 0
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseDateSlow is parseDate for every other form.
func parseDateSlow(s string) time.Time {
	if t, err := mail.ParseDate(s); err == nil {
		// net/mail gives obsolete zone names offset zero.
		if name, off := t.Zone(); off == 0 {
			if zoff, ok := obsZone(name); ok && zoff != 0 {
				t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(),
					t.Nanosecond(), time.FixedZone(name, zoff))
			}
		}
		if valid(t) {
			return t
		}
	}
	f := strings.Fields(strings.ReplaceAll(s, ",", ", "))
	for i, w := range f {
		u := strings.ToUpper(w)
		if off, ok := obsZone(u); ok && i > 0 {
			f[i] = formatOffset(off)
		} else if len(u) > 3 && (strings.HasPrefix(u, "GMT") || strings.HasPrefix(u, "UTC")) &&
			(u[3] == '+' || u[3] == '-') {
			f[i] = u[3:]
		}
		if len(f[i]) == 5 && (f[i][0] == '+' || f[i][0] == '-') && i+1 < len(f) {
			if isAlpha(f[i+1]) { // "+0200 CEST": the name is noise
				f = f[:i+1]
				break
			}
		}
	}
	s = strings.ReplaceAll(strings.Join(f, " "), " ,", ",")
	if t, err := mail.ParseDate(s); err == nil && valid(t) {
		return t
	}
	for _, l := range [...]string{
		"Mon, 2 Jan 2006 15:04:05",
		"2 Jan 2006 15:04:05",
		"Mon, 2 Jan 2006 15:04",
		"Mon Jan 2 15:04:05 2006",         // asctime
		"Mon Jan 2 15:04:05 -0700 2006",   // date(1)
		"Monday, 2-Jan-06 15:04:05 -0700", // RFC 850
		"Mon, 2-Jan-2006 15:04:05 -0700",
		"Mon, 2 Jan 2006 15.04.05 -0700",
		"Mon, 2 January 2006 15:04:05 -0700",
		"2006-01-02T15:04:05Z07:00", // RFC 3339
		"2006-01-02T15:04:05-0700",
		"2006-01-02T15:04:05",
		"2006-01-02 15:04:05 -0700",
		"2006-01-02 15:04:05",
	} {
		if t, err := time.Parse(l, s); err == nil && valid(t) {
			return t
		}
	}
	return time.Time{}
}

func isAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}

func formatOffset(off int) string {
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	h, m := off/3600, off%3600/60
	return string([]byte{sign, byte('0' + h/10), byte('0' + h%10), byte('0' + m/10), byte('0' + m%10)})
}

// valid keeps dates the JSON encoding (RFC 3339) can hold.
func valid(t time.Time) bool {
	_, off := t.Zone()
	return t.Year() >= 1 && t.Year() <= 9999 && off > -24*3600 && off < 24*3600
}

package smtp

import (
	"bytes"
	"errors"
	"strings"
)

// Command verbs (RFC 5321 4.1.1, RFC 3207, RFC 4954, RFC 3030). ParseCommand
// returns one of these, in upper case, for a known verb.
const (
	VerbEHLO     = "EHLO"
	VerbHELO     = "HELO"
	VerbMAIL     = "MAIL"
	VerbRCPT     = "RCPT"
	VerbDATA     = "DATA"
	VerbBDAT     = "BDAT"
	VerbRSET     = "RSET"
	VerbNOOP     = "NOOP"
	VerbQUIT     = "QUIT"
	VerbVRFY     = "VRFY"
	VerbEXPN     = "EXPN"
	VerbHELP     = "HELP"
	VerbAUTH     = "AUTH"
	VerbSTARTTLS = "STARTTLS"
)

var verbs = [...]string{VerbEHLO, VerbHELO, VerbMAIL, VerbRCPT, VerbDATA, VerbBDAT, VerbRSET,
	VerbNOOP, VerbQUIT, VerbVRFY, VerbEXPN, VerbHELP, VerbAUTH, VerbSTARTTLS}

// ParseCommand splits a command line (without its CRLF) into the verb, upper
// case, and the argument after the first space, with surrounding spaces
// removed. A known verb comes back as its constant, without allocating.
func ParseCommand(line []byte) (verb, arg string) {
	v := line
	if i := bytes.IndexByte(line, ' '); i >= 0 {
		v = line[:i]
		arg = strings.TrimSpace(string(line[i+1:]))
	}
	for _, k := range verbs {
		if len(v) == len(k) && bytes.EqualFold(v, []byte(k)) {
			return k, arg
		}
	}
	return strings.ToUpper(string(v)), arg
}

// Path syntax errors.
var (
	errPathSyntax = errors.New("malformed path")
)

// ParsePath reads a Reverse-path or Forward-path (RFC 5321 4.1.2) at the start
// of s: "<mailbox>", "<>" (returned as ""), or, as many servers tolerate, a
// mailbox without angle brackets. A source route ("<@a,@b:user@d>",
// RFC 5321 4.1.2 A-d-l, obsolete) is dropped (RFC 5321 C). The mailbox comes
// back as written (quotes kept), for ParseAddress; rest is what follows the
// path, the ESMTP parameters. A mailbox without "@" is returned as is: only
// the caller knows whether it accepts one (RCPT TO:<Postmaster>).
func ParsePath(s string) (mailbox, rest string, err error) {
	if !strings.HasPrefix(s, "<") {
		// No brackets: the mailbox ends at the first space.
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			i = len(s)
		}
		if i == 0 || strings.ContainsAny(s[:i], "<>") {
			return "", "", errPathSyntax
		}
		return s[:i], s[i:], nil
	}
	s = s[1:]
	if strings.HasPrefix(s, "@") {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			return "", "", errPathSyntax
		}
		s = s[i+1:]
	}
	// Find the closing bracket outside a quoted local part.
	quoted, esc := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case c == '\\' && quoted:
			esc = true
		case c == '"':
			quoted = !quoted
		case c == '>' && !quoted:
			if i+1 < len(s) && s[i+1] != ' ' {
				return "", "", errPathSyntax
			}
			return s[:i], s[i+1:], nil
		case (c == '<' || c == ' ') && !quoted:
			return "", "", errPathSyntax
		}
	}
	return "", "", errPathSyntax
}

// Param is one ESMTP parameter (RFC 5321 4.1.2 esmtp-param): keyword and
// value; HasValue tells "KEY=" from "KEY".
type Param struct {
	Key      string // upper case
	Value    string
	HasValue bool
}

// ParseParams splits the ESMTP parameters after a path. Keywords are
// upper-cased. A keyword given twice is kept twice (the later wins in
// ParseMailParams and ParseRcptParams): Python's smtplib sends SMTPUTF8
// twice when the caller asks for it too.
func ParseParams(s string) ([]Param, *Reply) {
	var ps []Param
	for _, f := range strings.Fields(s) {
		k, v, has := strings.Cut(f, "=")
		if k == "" || !isKeyword(k) {
			return nil, ParamSyntax("Malformed parameter")
		}
		k = strings.ToUpper(k)
		ps = append(ps, Param{Key: k, Value: v, HasValue: has})
	}
	return ps, nil
}

// isKeyword: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
func isKeyword(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' && i > 0) {
			return false
		}
	}
	return true
}

// DecodeXtext decodes RFC 3461 4 xtext: "+" followed by two upper-case hex
// digits stands for that octet; other characters are printable ASCII other
// than "+" and "=".
func DecodeXtext(s string) (string, error) {
	if strings.IndexByte(s, '+') < 0 {
		for i := 0; i < len(s); i++ {
			if s[i] < '!' || s[i] > '~' || s[i] == '=' {
				return "", errors.New("bad xtext")
			}
		}
		return s, nil
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
				return "", errors.New("bad xtext escape")
			}
			sb.WriteByte(byte(unhex(s[i+1])<<4 | unhex(s[i+2])))
			i += 2
		case c < '!' || c > '~' || c == '=':
			return "", errors.New("bad xtext")
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String(), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

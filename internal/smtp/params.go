package smtp

import (
	"strconv"
	"strings"
)

// Body types of the BODY parameter (RFC 6152, RFC 3030 3).
const (
	Body7Bit       = "7BIT"
	Body8BitMIME   = "8BITMIME"
	BodyBinaryMIME = "BINARYMIME"
)

// MailParams are the MAIL FROM parameters Gannet knows.
type MailParams struct {
	Size  int64  // RFC 1870 SIZE; 0 when not given
	Body  string // RFC 6152 / RFC 3030 BODY; "" when not given
	UTF8  bool   // RFC 6531 SMTPUTF8
	Ret   string // RFC 3461 4.3 RET: "FULL", "HDRS" or ""
	EnvID string // RFC 3461 4.4 ENVID, xtext-decoded
	// Auth is RFC 4954 5's AUTH= mailbox ("<>" for none); Gannet reads it
	// for syntax only and otherwise ignores it, as 5 allows.
	Auth string
}

// RcptParams are the RCPT TO parameters Gannet knows.
type RcptParams struct {
	Notify string // RFC 3461 4.1 NOTIFY, upper case, e.g. "SUCCESS,FAILURE"; "" when not given
	// ORcpt is RFC 3461 4.2 ORCPT as "addr-type;address", the type lower
	// case and the address xtext-decoded; "" when not given.
	ORcpt string
}

// ParamSyntax is 501 5.5.4 for a malformed parameter value (RFC 5321 4.2.2,
// RFC 3463 X.5.4).
func ParamSyntax(text string) *Reply {
	return NewReply(501, EnhancedCode{5, 5, 4}, text)
}

// ParamUnknown is 555 5.5.4: "MAIL FROM/RCPT TO parameters not recognized or
// not implemented" (RFC 5321 4.1.1.11, 4.2.2); also for a value given to a
// parameter that takes none.
func ParamUnknown(key string) *Reply {
	return NewReply(555, EnhancedCode{5, 5, 4}, "Parameter "+key+" not recognized or not implemented")
}

// ParseMailParams reads MAIL FROM's parameters. maxSize > 0 refuses a SIZE
// above it with 552 5.3.4 (RFC 1870 6.1). BODY=BINARYMIME is recognised, and
// refused with 504 5.5.4 unless binary is set (the server offers BINARYMIME).
func ParseMailParams(s string, maxSize int64, binary bool) (MailParams, *Reply) {
	var m MailParams
	ps, rep := ParseParams(s)
	if rep != nil {
		return m, rep
	}
	for _, p := range ps {
		switch p.Key {
		case "SIZE":
			n, err := strconv.ParseInt(p.Value, 10, 64)
			if !p.HasValue || err != nil || n < 0 || len(p.Value) > 20 || p.Value[0] == '+' {
				return m, ParamSyntax("Malformed SIZE parameter")
			}
			if maxSize > 0 && n > maxSize {
				return m, MessageTooBig()
			}
			m.Size = n
		case "BODY":
			switch strings.ToUpper(p.Value) {
			case Body7Bit:
				m.Body = Body7Bit
			case Body8BitMIME:
				m.Body = Body8BitMIME
			case BodyBinaryMIME:
				if !binary {
					return m, NewReply(504, EnhancedCode{5, 5, 4}, "BINARYMIME is not implemented")
				}
				m.Body = BodyBinaryMIME
			default:
				return m, ParamSyntax("Unknown BODY value")
			}
		case "SMTPUTF8":
			// RFC 6531 3.4: the parameter has no value.
			if p.HasValue {
				return m, ParamUnknown("SMTPUTF8=")
			}
			m.UTF8 = true
		case "RET":
			switch strings.ToUpper(p.Value) {
			case "FULL":
				m.Ret = "FULL"
			case "HDRS":
				m.Ret = "HDRS"
			default:
				return m, ParamSyntax("Unknown RET value")
			}
		case "ENVID":
			// RFC 3461 4.4: at most 100 characters, printable ASCII once decoded.
			v, err := DecodeXtext(p.Value)
			if err != nil || v == "" || len(p.Value) > 100 || !printable(v) {
				return m, ParamSyntax("Malformed ENVID parameter")
			}
			m.EnvID = v
		case "AUTH":
			v, err := DecodeXtext(p.Value)
			if err != nil || v == "" {
				return m, ParamSyntax("Malformed AUTH parameter")
			}
			if v != "<>" {
				if _, err := ParseAddress(v); err != nil {
					return m, ParamSyntax("Malformed AUTH parameter")
				}
			}
			m.Auth = v
		default:
			return m, ParamUnknown(p.Key)
		}
	}
	return m, nil
}

// ParseRcptParams reads RCPT TO's parameters.
func ParseRcptParams(s string) (RcptParams, *Reply) {
	var r RcptParams
	ps, rep := ParseParams(s)
	if rep != nil {
		return r, rep
	}
	for _, p := range ps {
		switch p.Key {
		case "NOTIFY":
			n, ok := parseNotify(p.Value)
			if !ok {
				return r, ParamSyntax("Malformed NOTIFY parameter")
			}
			r.Notify = n
		case "ORCPT":
			// RFC 3461 4.2: addr-type ";" xtext.
			typ, addr, ok := strings.Cut(p.Value, ";")
			if !ok || !isKeyword(typ) {
				return r, ParamSyntax("Malformed ORCPT parameter")
			}
			a, err := DecodeXtext(addr)
			if err != nil || a == "" {
				return r, ParamSyntax("Malformed ORCPT parameter")
			}
			r.ORcpt = strings.ToLower(typ) + ";" + a
		default:
			return r, ParamUnknown(p.Key)
		}
	}
	return r, nil
}

// parseNotify checks RFC 3461 4.1: "NEVER" alone, or a list of SUCCESS,
// FAILURE and DELAY without repeats.
func parseNotify(v string) (string, bool) {
	v = strings.ToUpper(v)
	if v == "NEVER" {
		return v, true
	}
	seen := map[string]bool{}
	for _, k := range strings.Split(v, ",") {
		switch k {
		case "SUCCESS", "FAILURE", "DELAY":
		default:
			return "", false
		}
		if seen[k] {
			return "", false
		}
		seen[k] = true
	}
	return v, true
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

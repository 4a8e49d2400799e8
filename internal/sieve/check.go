package sieve

import (
	"strings"
)

// check validates argument values that are known at compile time, so that an
// upload fails instead of a delivery (RFC 5228 2.10.5: errors should be found
// as early as possible). A string holding a variable reference is checked at
// run time instead.
func (c *compiler) check(n *cnode) error {
	konst := func(a argument) (string, bool) {
		if a.kind != aStrings || len(a.strs) == 0 {
			return "", false
		}
		s := a.strs[0]
		if c.caps["variables"] && strings.Contains(s, "${") {
			return "", false
		}
		return s, true
	}
	if n.has("last") && !n.has("index") && n.name != "addheader" && n.name != "duplicate" {
		return c.errf(n.tags["last"].pos, ":last needs :index (RFC 5260 6)")
	}
	if a, ok := n.tags["index"]; ok && a.num == 0 {
		return c.errf(a.pos, ":index counts from 1")
	}
	if a, ok := n.tags["zone"]; ok {
		if z, ok := konst(a); ok {
			if _, ok := parseZone(z); !ok {
				return c.errf(a.pos, `:zone must be "+hhmm" or "-hhmm", not %q`, z)
			}
		}
	}
	if err := c.namespaces(n); err != nil {
		return err
	}
	switch n.name {
	case "set":
		// RFC 5229 4: the name is a constant identifier, never a match variable.
		if !validVarName(n.args[0].strs[0]) {
			return c.errf(n.args[0].pos, "invalid variable name %q", n.args[0].strs[0])
		}
	case "global":
		if !c.caps["variables"] {
			return c.errf(n.pos, `"global" needs require "variables" (RFC 6609 3.4)`)
		}
		for _, s := range n.args[0].strs {
			if !validVarName(s) || strings.Contains(s, ".") {
				return c.errf(n.args[0].pos, "invalid variable name %q", s)
			}
		}
	case "setflag", "addflag", "removeflag", "hasflag":
		if n.args[0].kind != argAbsent {
			if !c.caps["variables"] {
				return c.errf(n.args[0].pos, "a variable name needs require \"variables\"")
			}
			for _, s := range n.args[0].strs {
				if !validVarName(s) {
					return c.errf(n.args[0].pos, "invalid variable name %q", s)
				}
			}
		}
	case "redirect":
		if s, ok := konst(n.args[0]); ok && !validAddress(strings.TrimSpace(s)) {
			return c.errf(n.args[0].pos, "redirect: %q is not an address", s)
		}
	case "fileinto":
		if s, ok := konst(n.args[0]); ok && s == "" {
			return c.errf(n.args[0].pos, "fileinto: empty mailbox name")
		}
	case "include":
		if s, ok := konst(n.args[0]); ok && (s == "" || strings.ContainsAny(s, "/\x00")) {
			return c.errf(n.args[0].pos, "include: invalid script name %q", s)
		}
	case "size":
		if !n.has("over") && !n.has("under") {
			return c.errf(n.pos, `"size" needs :over or :under`)
		}
	case "envelope":
		for _, s := range n.args[0].strs {
			if c.caps["variables"] && strings.Contains(s, "${") {
				continue
			}
			if p := strings.ToLower(s); p != "from" && p != "to" {
				return c.errf(n.args[0].pos, "unknown envelope part %q", s)
			}
		}
	case "date", "currentdate":
		pa := n.args[len(n.args)-2]
		if s, ok := konst(pa); ok && !validDatePart(s) {
			return c.errf(pa.pos, "unknown date part %q", s)
		}
	case "addheader", "deleteheader":
		if s, ok := konst(n.args[0]); ok && !validFieldName(s) {
			return c.errf(n.args[0].pos, "invalid header field name %q", s)
		}
	case "notify":
		if s, ok := konst(n.args[0]); ok {
			if _, err := parseMailto(s); err != nil {
				return c.errf(n.args[0].pos, "notify: %v", err)
			}
		}
		if a, ok := n.tags["importance"]; ok {
			if s, ok := konst(a); ok && s != "1" && s != "2" && s != "3" {
				return c.errf(a.pos, `notify :importance must be "1", "2" or "3"`)
			}
		}
	case "vacation":
		if a, ok := n.tags["from"]; ok {
			if s, ok := konst(a); ok && s != "" && !strings.Contains(s, "@") {
				return c.errf(a.pos, "vacation :from %q is not an address", s)
			}
		}
	}
	return nil
}

// namespaces rejects references to variable namespaces no required extension
// provides (RFC 5229 3); the only one here is "global." of include (RFC 6609
// 3.5).
func (c *compiler) namespaces(n *cnode) error {
	if !c.caps["variables"] {
		return nil
	}
	check := func(a argument, isName bool) error {
		if a.kind != aStrings {
			return nil
		}
		for _, s := range a.strs {
			var names []string
			if isName {
				names = []string{s}
			}
			rest := s
			for {
				i := strings.Index(rest, "${")
				if i < 0 {
					break
				}
				rest = rest[i+2:]
				if j := strings.IndexByte(rest, '}'); j >= 0 && validVarName(rest[:j]) {
					names = append(names, rest[:j])
				}
			}
			for _, name := range names {
				ns, _, dotted := strings.Cut(strings.ToLower(name), ".")
				if dotted && !(ns == "global" && c.caps["include"]) {
					return c.errf(a.pos, "unknown variable namespace %q", ns)
				}
			}
		}
		return nil
	}
	for i, a := range n.args {
		if err := check(a, n.name == "set" && i == 0); err != nil {
			return err
		}
	}
	for _, a := range n.tags {
		if err := check(a, false); err != nil {
			return err
		}
	}
	return nil
}

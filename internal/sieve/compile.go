package sieve

import (
	"fmt"
	"slices"
	"strings"
)

// Options bound what a script may use. Zero fields take the defaults below.
type Options struct {
	MaxScriptSize int // bytes of source; default 1 MiB
	MaxDepth      int // nesting of blocks and tests; default 32
	MaxActions    int // actions one run may take (keep, fileinto, redirect, ...); default 128
	MaxRedirects  int // redirect actions per run (RFC 5228 4.2 "SHOULD limit"); default 8
	MaxIncludes   int // include depth (RFC 6609 3.2); default 8
	MaxVarLen     int // bytes of one variable's value (RFC 5229 3); default 64 KiB
	MaxMatchBytes int // bytes of text one test compares, e.g. a body; default 1 MiB
	MaxSteps      int // commands and tests one run evaluates, includes counted; default 100000
	MaxWork       int // bytes compared by all the tests of one run; default 64 MiB
	// Extensions limits which capabilities "require" may name; nil allows
	// every one in Capabilities.
	Extensions []string
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxScriptSize, 1<<20)
	def(&o.MaxDepth, 32)
	def(&o.MaxActions, 128)
	def(&o.MaxRedirects, 8)
	def(&o.MaxIncludes, 8)
	def(&o.MaxVarLen, 64<<10)
	def(&o.MaxMatchBytes, 1<<20)
	def(&o.MaxSteps, 100000)
	def(&o.MaxWork, 64<<20)
	return o
}

// Script is a compiled, validated script; it is immutable and safe for
// concurrent Run calls.
type Script struct {
	name string
	caps map[string]bool
	cmds []*cnode
	opts Options
}

// Name returns the name given to Compile.
func (s *Script) Name() string { return s.name }

// cnode is a validated command or test.
type cnode struct {
	pos   Pos
	name  string
	tags  map[string]argument // tag name → its value (kind aTag for a flag)
	args  []argument          // positional; absent optional ones have kind argAbsent
	tests []*cnode
	block []*cnode
	elses []*cnode // for "if": the elsif/else commands that follow it

	// RFC 5228 2.7 options of a matching test, resolved at compile time.
	cmp string // comparator name
	mt  string // is, contains, matches, count, value
	rel string // gt, ge, lt, le, eq, ne for count/value
}

const argAbsent argKind = -1

func (n *cnode) has(tag string) bool { _, ok := n.tags[tag]; return ok }

// Compile parses and validates a script completely, so that an upload
// (ManageSieve PUTSCRIPT, webmail) can refuse a script that would fail later:
// syntax, unknown commands, tests, tags and capabilities (RFC 5228 2.10.5,
// 3.2), argument types and values known at compile time.
func Compile(name string, src []byte, opts Options) (*Script, error) {
	opts = opts.withDefaults()
	if len(src) > opts.MaxScriptSize {
		return nil, &Error{Script: name, Msg: fmt.Sprintf("script too large (%d bytes, at most %d)", len(src), opts.MaxScriptSize)}
	}
	nodes, err := parse(name, src, opts.MaxDepth)
	if err != nil {
		return nil, err
	}
	c := &compiler{name: name, opts: opts, caps: map[string]bool{}, specs: map[string]spec{}}
	i := 0
	for ; i < len(nodes) && nodes[i].name == "require"; i++ {
		if err := c.require(nodes[i]); err != nil {
			return nil, err
		}
	}
	cmds, err := c.block(nodes[i:], 0)
	if err != nil {
		return nil, err
	}
	return &Script{name: name, caps: c.caps, cmds: cmds, opts: opts}, nil
}

type compiler struct {
	name  string
	opts  Options
	caps  map[string]bool
	specs map[string]spec // built once per name and compile
}

func (c *compiler) spec(what, name string) (spec, bool) {
	key := what + " " + name
	if sp, ok := c.specs[key]; ok {
		return sp, true
	}
	sp, ok := commandSpec(name)
	if what == "test" {
		sp, ok = testSpec(name)
	}
	if ok {
		c.specs[key] = sp
	}
	return sp, ok
}

func (c *compiler) errf(p Pos, format string, a ...any) error {
	return &Error{Script: c.name, Pos: p, Msg: fmt.Sprintf(format, a...)}
}

// require records capabilities; an unknown one is an error (RFC 5228 3.2).
func (c *compiler) require(n *node) error {
	if len(n.args) != 1 || n.args[0].kind != aStrings || len(n.tests) > 0 || n.hasBlock {
		return c.errf(n.pos, `"require" takes one string list`)
	}
	allowed := Capabilities()
	if c.opts.Extensions != nil {
		allowed = c.opts.Extensions
	}
	for _, cp := range n.args[0].strs {
		cp = strings.ToLower(cp)
		if !slices.Contains(allowed, cp) || !slices.Contains(Capabilities(), cp) {
			return c.errf(n.args[0].pos, "unsupported capability %q", cp)
		}
		c.caps[cp] = true
	}
	// RFC 6131 2: vacation-seconds implies vacation; RFC 5235 3.2 likewise.
	if c.caps["vacation-seconds"] {
		c.caps["vacation"] = true
	}
	if c.caps["spamtestplus"] {
		c.caps["spamtest"] = true
	}
	return nil
}

func (c *compiler) block(nodes []*node, depth int) ([]*cnode, error) {
	var out []*cnode
	for _, n := range nodes {
		switch n.name {
		case "require":
			return nil, c.errf(n.pos, `"require" must come before any other command`)
		case "elsif", "else":
			if len(out) == 0 || out[len(out)-1].name != "if" {
				return nil, c.errf(n.pos, "%q without a preceding \"if\"", n.name)
			}
			prev := out[len(out)-1]
			if len(prev.elses) > 0 && prev.elses[len(prev.elses)-1].name == "else" {
				return nil, c.errf(n.pos, "%q after \"else\"", n.name)
			}
			cn, err := c.node(n, false, depth)
			if err != nil {
				return nil, err
			}
			prev.elses = append(prev.elses, cn)
			continue
		}
		cn, err := c.node(n, false, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, cn)
	}
	return out, nil
}

func (c *compiler) node(n *node, isTest bool, depth int) (*cnode, error) {
	what := "command"
	if isTest {
		what = "test"
	}
	sp, ok := c.spec(what, n.name)
	if !ok {
		return nil, c.errf(n.pos, "unknown %s %q", what, n.name)
	}
	if sp.cap != "" && !c.caps[sp.cap] {
		return nil, c.errf(n.pos, "%s %q needs require %q", what, n.name, sp.cap)
	}
	cn := &cnode{pos: n.pos, name: n.name, tags: map[string]argument{}}
	// Tagged arguments come first, then positional ones (RFC 5228 2.6.2).
	args := n.args
	groups := map[string]string{}
	for len(args) > 0 && args[0].kind == aTag {
		a := args[0]
		args = args[1:]
		ts, ok := sp.tags[a.tag]
		if !ok {
			return nil, c.errf(a.pos, "%s %q has no tag :%s", what, n.name, a.tag)
		}
		if ts.cap != "" && !c.caps[ts.cap] {
			return nil, c.errf(a.pos, "tag :%s needs require %q", a.tag, ts.cap)
		}
		if _, dup := cn.tags[a.tag]; dup {
			return nil, c.errf(a.pos, "tag :%s given twice", a.tag)
		}
		if ts.group != "" {
			if other, dup := groups[ts.group]; dup {
				return nil, c.errf(a.pos, "tags :%s and :%s exclude each other", other, a.tag)
			}
			groups[ts.group] = a.tag
		}
		val := a
		if ts.val != vNone {
			if len(args) == 0 {
				return nil, c.errf(a.pos, "tag :%s needs a value", a.tag)
			}
			val = args[0]
			args = args[1:]
			if err := c.checkKind(val, ts.val, ":"+a.tag); err != nil {
				return nil, err
			}
		}
		cn.tags[a.tag] = val
	}
	for _, a := range args {
		if a.kind == aTag {
			return nil, c.errf(a.pos, "tag :%s after the positional arguments", a.tag)
		}
	}
	if len(args) < len(sp.args)-sp.optFront-sp.optBack || len(args) > len(sp.args) {
		return nil, c.errf(n.pos, "%s %q takes %s", what, n.name, argCount(sp))
	}
	missing := len(sp.args) - len(args)
	if missing > 0 && sp.optFront > 0 {
		for range missing {
			cn.args = append(cn.args, argument{kind: argAbsent, pos: n.pos})
		}
	}
	for i, a := range args {
		if err := c.checkKind(a, sp.args[len(cn.args)], fmt.Sprintf("argument %d of %q", i+1, n.name)); err != nil {
			return nil, err
		}
		cn.args = append(cn.args, a)
	}
	for len(cn.args) < len(sp.args) {
		cn.args = append(cn.args, argument{kind: argAbsent, pos: n.pos})
	}
	if err := c.subtests(n, cn, sp, what, depth); err != nil {
		return nil, err
	}
	if sp.block != n.hasBlock {
		if sp.block {
			return nil, c.errf(n.pos, "%q needs a block", n.name)
		}
		return nil, c.errf(n.pos, "%q takes no block", n.name)
	}
	if sp.block {
		b, err := c.block(n.block, depth+1)
		if err != nil {
			return nil, err
		}
		cn.block = b
	}
	if err := c.encoded(cn); err != nil {
		return nil, err
	}
	if sp.matching {
		if err := c.matching(cn); err != nil {
			return nil, err
		}
	}
	if err := c.check(cn); err != nil {
		return nil, err
	}
	return cn, nil
}

func argCount(sp spec) string {
	min := len(sp.args) - sp.optFront - sp.optBack
	switch {
	case len(sp.args) == 0:
		return "no positional arguments"
	case min == len(sp.args):
		return fmt.Sprintf("%d positional argument(s)", min)
	}
	return fmt.Sprintf("%d to %d positional arguments", min, len(sp.args))
}

func (c *compiler) subtests(n *node, cn *cnode, sp spec, what string, depth int) error {
	switch sp.tests {
	case 0:
		if len(n.tests) > 0 {
			return c.errf(n.tests[0].pos, "unexpected %q: %s %q takes no test (missing \",\", \";\" or \"{\"?)", n.tests[0].name, what, n.name)
		}
	case 1:
		if len(n.tests) != 1 || n.testList {
			return c.errf(n.pos, "%s %q takes exactly one test", what, n.name)
		}
	case 2:
		if !n.testList {
			return c.errf(n.pos, "%s %q takes a test list in parentheses", what, n.name)
		}
	}
	for _, t := range n.tests {
		ct, err := c.node(t, true, depth+1)
		if err != nil {
			return err
		}
		cn.tests = append(cn.tests, ct)
	}
	return nil
}

func (c *compiler) checkKind(a argument, want valKind, what string) error {
	switch want {
	case vNumber:
		if a.kind != aNumber {
			return c.errf(a.pos, "%s must be a number", what)
		}
	case vString:
		if a.kind != aStrings || a.list && len(a.strs) != 1 {
			return c.errf(a.pos, "%s must be a string", what)
		}
	case vList:
		if a.kind != aStrings {
			return c.errf(a.pos, "%s must be a string list", what)
		}
	}
	return nil
}

// matching resolves COMPARATOR and MATCH-TYPE (RFC 5228 2.7.1, 2.7.3; RFC 5231).
func (c *compiler) matching(cn *cnode) error {
	cn.cmp, cn.mt = "i;ascii-casemap", "is"
	if a, ok := cn.tags["comparator"]; ok {
		cn.cmp = strings.ToLower(a.strs[0])
		switch cn.cmp {
		case "i;octet", "i;ascii-casemap":
		case "i;ascii-numeric":
			if !c.caps["comparator-i;ascii-numeric"] {
				return c.errf(a.pos, `comparator "i;ascii-numeric" needs require "comparator-i;ascii-numeric"`)
			}
		default:
			return c.errf(a.pos, "unknown comparator %q", cn.cmp)
		}
	}
	for _, mt := range []string{"is", "contains", "matches", "count", "value"} {
		if a, ok := cn.tags[mt]; ok {
			cn.mt = mt
			if mt == "count" || mt == "value" {
				cn.rel = strings.ToLower(a.strs[0])
				switch cn.rel {
				case "gt", "ge", "lt", "le", "eq", "ne":
				default:
					return c.errf(a.pos, "unknown relational operator %q", a.strs[0])
				}
			}
			if cn.cmp == "i;ascii-numeric" && (mt == "contains" || mt == "matches") {
				return c.errf(a.pos, `comparator "i;ascii-numeric" does not support :%s`, mt)
			}
		}
	}
	return nil
}

// encoded replaces ${hex:...} and ${unicode:...} in every string argument
// when "encoded-character" is required (RFC 5228 2.4.2.4).
func (c *compiler) encoded(cn *cnode) error {
	if !c.caps["encoded-character"] {
		return nil
	}
	fix := func(a *argument) error {
		if a.kind != aStrings {
			return nil
		}
		for i, s := range a.strs {
			d, err := decodeEncodedChars(s)
			if err != nil {
				return c.errf(a.pos, "%v", err)
			}
			a.strs[i] = d
		}
		return nil
	}
	for i := range cn.args {
		if err := fix(&cn.args[i]); err != nil {
			return err
		}
	}
	for k, a := range cn.tags {
		if err := fix(&a); err != nil {
			return err
		}
		cn.tags[k] = a
	}
	return nil
}

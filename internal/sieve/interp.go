package sieve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The interpreter walks the compiled tree. Scripts have no loops, so a run's
// work is bounded by the script's size, Options.MaxSteps and the per-test text
// limits; include depth and the total number of steps bound include chains.

type ctrl int

const (
	cNext ctrl = iota
	cStop
	cReturn
)

type runState struct {
	ctx     context.Context
	msg     *Message
	env     *Env
	opts    Options
	res     result
	header  []field
	edited  bool
	flags   []string // the imap4flags internal variable (RFC 5232 3)
	globals map[string]string
	steps   int
	work    int64              // comparison budget left (Options.MaxWork)
	once    map[string]bool    // scripts included with :once (RFC 6609 3.2)
	active  []string           // include stack, for cycle detection
	cache   map[string]*Script // scripts compiled during this run
	now     time.Time
}

// frame is one script's variables (RFC 6609 3.3: each included script has its
// own, except those declared global).
type frame struct {
	script *Script
	vars   map[string]string
	global map[string]bool
	match  []string // ${0}.. of the last successful :matches (RFC 5229 3.2)
}

// Run executes the script on msg. Nothing is performed: the Result lists what
// the caller must do. On a run-time error the returned Result holds only the
// implicit keep (RFC 5228 2.10.6) and the error says what failed and where.
func (s *Script) Run(ctx context.Context, msg *Message, env Env) (*Result, error) {
	st := &runState{
		ctx: ctx, msg: msg, env: &env, opts: s.opts,
		res:     result{implicitKeep: true, maxActions: s.opts.MaxActions, maxRedirects: s.opts.MaxRedirects},
		header:  append([]field(nil), msg.header...),
		globals: map[string]string{},
		once:    map[string]bool{},
		cache:   map[string]*Script{},
		work:    int64(s.opts.MaxWork),
	}
	if env.Now != nil {
		st.now = env.Now()
	} else {
		st.now = time.Now()
	}
	st.active = []string{"personal:" + s.name}
	_, err := st.runScript(s)
	if err != nil {
		return &Result{Actions: []Action{{Kind: Keep, Implicit: true}}}, err
	}
	out := &Result{Actions: st.res.actions}
	if st.res.implicitKeep {
		out.Actions = append(out.Actions, Action{Kind: Keep, Implicit: true, Flags: st.flags})
	}
	if st.edited {
		out.HeaderEdited = true
		out.Header = serializeHeader(st.header)
	}
	return out, nil
}

func (st *runState) runScript(s *Script) (ctrl, error) {
	fr := &frame{script: s, vars: map[string]string{}, global: map[string]bool{}}
	return st.exec(fr, s.cmds)
}

func (st *runState) errAt(fr *frame, n *cnode, format string, a ...any) error {
	return &Error{Script: fr.script.name, Pos: n.pos, Msg: fmt.Sprintf(format, a...)}
}

func (st *runState) step(fr *frame, n *cnode) error {
	st.steps++
	if st.steps > st.opts.MaxSteps {
		return st.errAt(fr, n, "script takes too many steps (more than %d)", st.opts.MaxSteps)
	}
	if st.steps%64 == 0 {
		if err := st.ctx.Err(); err != nil {
			return fmt.Errorf("sieve: run: %w", err)
		}
	}
	return nil
}

func (st *runState) exec(fr *frame, cmds []*cnode) (ctrl, error) {
	for _, n := range cmds {
		if err := st.step(fr, n); err != nil {
			return cStop, err
		}
		c, err := st.command(fr, n)
		if err != nil || c != cNext {
			return c, err
		}
	}
	return cNext, nil
}

// str returns argument a's single string, variables expanded (RFC 5229 3).
func (fr *frame) str(st *runState, a argument) string {
	if a.kind != aStrings || len(a.strs) == 0 {
		return ""
	}
	return fr.expand(st, a.strs[0])
}

func (fr *frame) list(st *runState, a argument) []string {
	if a.kind != aStrings {
		return nil
	}
	out := make([]string, len(a.strs))
	for i, s := range a.strs {
		out[i] = fr.expand(st, s)
	}
	return out
}

func (fr *frame) expand(st *runState, s string) string {
	if !fr.script.caps["variables"] {
		return s
	}
	return expand(s, func(name string) string { return fr.get(st, name) }, st.opts.MaxVarLen)
}

// get reads a variable: a match variable, global.NAME, a name declared
// global (RFC 6609 3.4, 3.5), or a local one. Unset variables are "".
func (fr *frame) get(st *runState, name string) string {
	if isDigits(name) {
		i := 0
		for _, c := range name {
			i = i*10 + int(c-'0')
			if i > len(fr.match) {
				return ""
			}
		}
		if i < len(fr.match) {
			return fr.match[i]
		}
		return ""
	}
	if g, ok := strings.CutPrefix(name, "global."); ok {
		return st.globals[g]
	}
	if fr.global[name] {
		return st.globals[name]
	}
	return fr.vars[name]
}

func (fr *frame) set(st *runState, name, v string) {
	name = strings.ToLower(name)
	v = truncate(v, st.opts.MaxVarLen)
	if g, ok := strings.CutPrefix(name, "global."); ok {
		st.globals[g] = v
		return
	}
	if fr.global[name] {
		st.globals[name] = v
		return
	}
	fr.vars[name] = v
}

func (st *runState) command(fr *frame, n *cnode) (ctrl, error) {
	switch n.name {
	case "if":
		ok, err := st.test(fr, n.tests[0])
		if err != nil {
			return cStop, err
		}
		if ok {
			return st.exec(fr, n.block)
		}
		for _, e := range n.elses {
			if e.name == "else" {
				return st.exec(fr, e.block)
			}
			ok, err := st.test(fr, e.tests[0])
			if err != nil {
				return cStop, err
			}
			if ok {
				return st.exec(fr, e.block)
			}
		}
		return cNext, nil
	case "stop":
		return cStop, nil
	case "return":
		return cReturn, nil
	case "keep":
		return cNext, st.add(fr, n, Action{Kind: Keep, Flags: st.actionFlags(fr, n)})
	case "discard":
		return cNext, st.add(fr, n, Action{Kind: Discard})
	case "fileinto":
		mb := fr.str(st, n.args[0])
		if mb == "" {
			return cStop, st.errAt(fr, n, "fileinto: empty mailbox name")
		}
		return cNext, st.add(fr, n, Action{Kind: FileInto, Mailbox: mb, Copy: n.has("copy"),
			Create: n.has("create"), Flags: st.actionFlags(fr, n)})
	case "redirect":
		addr := strings.TrimSpace(fr.str(st, n.args[0]))
		if !validAddress(addr) {
			return cStop, st.errAt(fr, n, "redirect: %q is not an address", addr)
		}
		return cNext, st.add(fr, n, Action{Kind: Redirect, Address: addr, Copy: n.has("copy")})
	case "reject", "ereject":
		k := Reject
		if n.name == "ereject" {
			k = EReject
		}
		return cNext, st.add(fr, n, Action{Kind: k, Reason: fr.str(st, n.args[0])})
	case "setflag", "addflag", "removeflag":
		st.flagCommand(fr, n)
		return cNext, nil
	case "set":
		fr.set(st, n.args[0].strs[0], applyModifiers(n, fr.str(st, n.args[1])))
		return cNext, nil
	case "global":
		for _, name := range n.args[0].strs {
			fr.global[strings.ToLower(name)] = true
		}
		return cNext, nil
	case "vacation":
		return cNext, st.vacation(fr, n)
	case "notify":
		return cNext, st.notify(fr, n)
	case "include":
		return st.include(fr, n)
	case "addheader":
		st.addHeader(fr, n)
		return cNext, nil
	case "deleteheader":
		st.deleteHeader(fr, n)
		return cNext, nil
	}
	return cStop, st.errAt(fr, n, "command %q is not implemented", n.name)
}

func (st *runState) add(fr *frame, n *cnode, a Action) error {
	if err := st.res.add(a); err != nil {
		return st.errAt(fr, n, "%v", err)
	}
	return nil
}

// actionFlags returns the flags of keep/fileinto: :flags, else the internal
// variable (RFC 5232 5).
func (st *runState) actionFlags(fr *frame, n *cnode) []string {
	if a, ok := n.tags["flags"]; ok {
		return splitFlags(fr.list(st, a))
	}
	if len(st.flags) == 0 {
		return nil
	}
	return append([]string(nil), st.flags...)
}

// flagCommand runs setflag, addflag and removeflag (RFC 5232 4) on the
// internal variable or on the named one.
func (st *runState) flagCommand(fr *frame, n *cnode) {
	arg := fr.list(st, n.args[1])
	var cur []string
	named := n.args[0].kind != argAbsent
	var name string
	if named {
		name = fr.str(st, n.args[0])
		cur = strings.Fields(fr.get(st, strings.ToLower(name)))
	} else {
		cur = st.flags
	}
	switch n.name {
	case "setflag":
		cur = splitFlags(arg)
	case "addflag":
		cur = mergeFlags(cur, splitFlags(arg))
	case "removeflag":
		cur = removeFlags(cur, splitFlags(arg))
	}
	if named {
		fr.set(st, name, strings.Join(cur, " "))
	} else {
		st.flags = cur
	}
}

// validAddress is a light check of a redirect target: one addr-spec with a
// local part and a domain, no white space, brackets or commas.
func validAddress(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " \t\r\n<>,;\"()")
}

// include runs another script (RFC 6609 3.2).
func (st *runState) include(fr *frame, n *cnode) (ctrl, error) {
	name := fr.str(st, n.args[0])
	global := n.has("global")
	key := "personal:" + name
	if global {
		key = "global:" + name
	}
	if n.has("once") && st.once[key] {
		return cNext, nil
	}
	for _, a := range st.active {
		if a == key {
			return cStop, st.errAt(fr, n, "include: %q includes itself", name)
		}
	}
	if len(st.active) > st.opts.MaxIncludes {
		return cStop, st.errAt(fr, n, "include: nested more than %d deep", st.opts.MaxIncludes)
	}
	s, ok := st.cache[key]
	if !ok {
		if st.env.Include == nil {
			return cStop, st.errAt(fr, n, "include: %q not found", name)
		}
		src, err := st.env.Include(st.ctx, name, global)
		if errors.Is(err, ErrNoScript) && n.has("optional") {
			return cNext, nil
		}
		if err != nil {
			if errors.Is(err, ErrNoScript) {
				return cStop, st.errAt(fr, n, "include: %q not found", name)
			}
			return cStop, fmt.Errorf("sieve: include %q: %w", name, err)
		}
		s, err = Compile(name, src, st.opts)
		if err != nil {
			return cStop, err
		}
		st.cache[key] = s
	}
	st.once[key] = true
	st.active = append(st.active, key)
	c, err := st.runScript(s)
	st.active = st.active[:len(st.active)-1]
	if c == cReturn {
		c = cNext // RFC 6609 3.3: return ends only the included script
	}
	return c, err
}

package sieve

// The parser builds a generic syntax tree (RFC 5228 8.2); compile.go checks
// it against what each command and test accepts.

type argKind int

const (
	aTag argKind = iota
	aNumber
	aStrings
)

type argument struct {
	pos  Pos
	kind argKind
	tag  string   // aTag: the name without ':'
	num  uint64   // aNumber
	strs []string // aStrings
	list bool     // aStrings written in brackets
}

type node struct {
	pos      Pos
	name     string
	args     []argument
	tests    []*node
	testList bool // tests came in parentheses
	block    []*node
	hasBlock bool
}

type parser struct {
	lx       *lexer
	tok      token
	maxDepth int
}

// parse returns the commands of a script or the first syntax error.
func parse(name string, src []byte, maxDepth int) ([]*node, error) {
	p := &parser{lx: newLexer(name, src), maxDepth: maxDepth}
	if err := p.next(); err != nil {
		return nil, err
	}
	cmds, err := p.commands(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.errf("unexpected %s", p.tok.kind)
	}
	return cmds, nil
}

func (p *parser) next() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errf(format string, a ...any) error {
	return p.lx.errf(p.tok.pos, format, a...)
}

func (p *parser) commands(depth int) ([]*node, error) {
	var out []*node
	for p.tok.kind == tIdent {
		c, err := p.command(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (p *parser) command(depth int) (*node, error) {
	if depth > p.maxDepth {
		return nil, p.errf("blocks nested too deeply (more than %d)", p.maxDepth)
	}
	n := &node{pos: p.tok.pos, name: p.tok.text}
	if err := p.next(); err != nil {
		return nil, err
	}
	if err := p.arguments(n, depth); err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tSemicolon:
		return n, p.next()
	case tLBrace:
		if err := p.next(); err != nil {
			return nil, err
		}
		block, err := p.commands(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRBrace {
			return nil, p.errf(`expected a command or "}", found %s`, p.tok.kind)
		}
		n.block, n.hasBlock = block, true
		return n, p.next()
	}
	return nil, p.errf(`expected ";" or "{" after the arguments of %q, found %s`, n.name, p.tok.kind)
}

// arguments reads *argument [test / test-list] into n.
func (p *parser) arguments(n *node, depth int) error {
	for {
		a := argument{pos: p.tok.pos}
		switch p.tok.kind {
		case tTag:
			a.kind, a.tag = aTag, p.tok.text
		case tNumber:
			a.kind, a.num = aNumber, p.tok.num
		case tString:
			a.kind, a.strs = aStrings, []string{p.tok.text}
		case tLBracket:
			strs, err := p.stringList()
			if err != nil {
				return err
			}
			n.args = append(n.args, argument{pos: a.pos, kind: aStrings, strs: strs, list: true})
			continue
		default:
			return p.testsOf(n, depth)
		}
		n.args = append(n.args, a)
		if err := p.next(); err != nil {
			return err
		}
	}
}

func (p *parser) stringList() ([]string, error) {
	var out []string
	for {
		if err := p.next(); err != nil {
			return nil, err
		}
		if p.tok.kind != tString {
			return nil, p.errf("expected a string in the list, found %s", p.tok.kind)
		}
		out = append(out, p.tok.text)
		if err := p.next(); err != nil {
			return nil, err
		}
		switch p.tok.kind {
		case tComma:
			continue
		case tRBracket:
			return out, p.next()
		}
		return nil, p.errf(`expected "," or "]" in a string list, found %s`, p.tok.kind)
	}
}

func (p *parser) testsOf(n *node, depth int) error {
	switch p.tok.kind {
	case tIdent:
		t, err := p.test(depth + 1)
		if err != nil {
			return err
		}
		n.tests = []*node{t}
	case tLParen:
		n.testList = true
		for {
			if err := p.next(); err != nil {
				return err
			}
			if p.tok.kind != tIdent {
				return p.errf("expected a test, found %s", p.tok.kind)
			}
			t, err := p.test(depth + 1)
			if err != nil {
				return err
			}
			n.tests = append(n.tests, t)
			if p.tok.kind == tComma {
				continue
			}
			if p.tok.kind != tRParen {
				return p.errf(`expected "," or ")" in a test list, found %s`, p.tok.kind)
			}
			return p.next()
		}
	}
	return nil
}

func (p *parser) test(depth int) (*node, error) {
	if depth > p.maxDepth {
		return nil, p.errf("tests nested too deeply (more than %d)", p.maxDepth)
	}
	n := &node{pos: p.tok.pos, name: p.tok.text}
	if err := p.next(); err != nil {
		return nil, err
	}
	return n, p.arguments(n, depth)
}

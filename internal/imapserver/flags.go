package imapserver

import (
	"strings"

	"gannet/internal/imapwire"
)

// parseFlags reads a flag-list, or with bare true also the bare form
// "flag *(SP flag)" that STORE allows (RFC 9051 9: store-att-flags). \Recent
// cannot be set by a client (RFC 3501 2.3.2) and is dropped.
func parseFlags(p *imapwire.Parser, bare bool) ([]string, error) {
	var flags []string
	add := func() error {
		f, err := p.Flag()
		if err != nil {
			return err
		}
		if !strings.EqualFold(f, `\Recent`) {
			flags = append(flags, f)
		}
		return nil
	}
	if p.Peek() == '(' || !bare {
		if err := p.List(add); err != nil {
			return nil, err
		}
		return flags, nil
	}
	for {
		if err := add(); err != nil {
			return nil, err
		}
		if !p.Accept(' ') {
			return flags, nil
		}
	}
}

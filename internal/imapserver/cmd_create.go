package imapserver

import (
	"strings"

	"gannet/internal/store"
)

// cmdCreate is CREATE (RFC 9051 6.3.4) with the USE parameter of SPECIAL-USE
// (RFC 6154 3). A trailing separator only says the client means to create
// children; missing parents are created.
func (c *conn) cmdCreate(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	name, err := p.Mailbox()
	if err != nil {
		// A name that is not modified UTF-7 cannot be created (RFC 3501
		// 5.1.3): NO [CANNOT], as Dovecot answers.
		badNameCode(err, "CANNOT")
		return err
	}
	use, many := "", false
	if p.Accept(' ') {
		err := p.List(func() error {
			kw, err := p.Keyword()
			if err != nil {
				return err
			}
			if kw != "USE" {
				return p.Fail("unknown CREATE parameter")
			}
			if err := p.SP(); err != nil {
				return err
			}
			return p.List(func() error {
				f, err := p.Flag()
				if err != nil {
					return err
				}
				if use != "" {
					many = true // refused below, after the whole command is read
				}
				use = f
				return nil
			})
		})
		if err != nil {
			return err
		}
	}
	if err := p.End(); err != nil {
		return err
	}
	name = strings.TrimSuffix(name, store.Separator)
	// RFC 6154 3: a special use that cannot be given is NO [USEATTR],
	// and the mailbox is not created. A mailbox here has one at most.
	if many {
		return errNo("USEATTR", "Only one special use per mailbox")
	}
	if use != "" && !validSpecialUse(use) {
		return errNo("USEATTR", "Unsupported special use")
	}
	if name == "INBOX" {
		return errNo("ALREADYEXISTS", "Mailbox already exists")
	}
	if _, err := c.srv.opts.Store.CreateMailbox(c.ctx, c.acct.ID, name, use); err != nil {
		return storeErr(err)
	}
	return nil
}

func validSpecialUse(f string) bool {
	switch f {
	case store.SpecialSent, store.SpecialDrafts, store.SpecialTrash, store.SpecialJunk, store.SpecialArchive:
		return true
	}
	return false
}

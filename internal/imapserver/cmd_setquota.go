package imapserver

// cmdSetQuota is SETQUOTA (RFC 9208 4.1): quotas are set by the
// administrator (gannet user quota), never by the user.
func (c *conn) cmdSetQuota(cmd *command) error {
	p := cmd.p
	if _, err := quotaRoot(p); err != nil {
		return err
	}
	if err := p.SP(); err != nil {
		return err
	}
	err := p.List(func() error {
		if _, err := p.Atom(); err != nil {
			return err
		}
		if err := p.SP(); err != nil {
			return err
		}
		_, err := p.Number64()
		return err
	})
	if err != nil {
		return err
	}
	if err := p.End(); err != nil {
		return err
	}
	return errNo("NOPERM", "Quotas are set by the administrator")
}

package imapserver

// cmdGetQuota is GETQUOTA (RFC 9208 4.2).
func (c *conn) cmdGetQuota(cmd *command) error {
	root, err := quotaRoot(cmd.p)
	if err != nil {
		return err
	}
	if err := cmd.p.End(); err != nil {
		return err
	}
	if root != "" {
		return errNo("NONEXISTENT", "No such quota root")
	}
	return c.writeQuota()
}

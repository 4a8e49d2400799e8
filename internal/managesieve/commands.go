package managesieve

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"gannet/internal/login"
	"gannet/internal/netserver"
	"gannet/internal/sieve"
	"gannet/internal/store"
)

// capabilities writes the capability list (RFC 5804 1.7).
func (c *conn) capabilities() {
	line := func(k, v string) {
		c.w.WriteString(str(k))
		if v != "" || k == "SASL" {
			c.w.WriteString(" " + str(v))
		}
		c.w.WriteString("\r\n")
	}
	line("IMPLEMENTATION", "Gannet")
	sasl := ""
	if c.secure() {
		sasl = "PLAIN"
	}
	line("SASL", sasl)
	line("SIEVE", strings.Join(sieve.Capabilities(), " "))
	if c.srv.opts.TLS != nil && !c.tls {
		line("STARTTLS", "")
	}
	line("MAXREDIRECTS", "8")
	line("VERSION", "1.0")
}

// dispatch runs one command; only an I/O error is returned.
func (c *conn) dispatch(name string, args []string) error {
	want := func(n int) bool {
		if len(args) != n {
			c.no("", "Wrong number of arguments")
			c.bad++
			return false
		}
		return true
	}
	switch name {
	case "CAPABILITY":
		if want(0) {
			c.capabilities()
			c.ok("", "Capability completed")
		}
		return nil
	case "LOGOUT":
		c.ok("", "Logout completed")
		c.logout = true
		return nil
	case "NOOP":
		if len(args) == 1 {
			c.ok("TAG "+str(args[0]), "Done")
		} else {
			c.ok("", "Done")
		}
		return nil
	case "STARTTLS":
		return c.startTLS()
	case "AUTHENTICATE":
		return c.authenticate(args)
	}
	if c.account == nil {
		switch name {
		case "HAVESPACE", "PUTSCRIPT", "CHECKSCRIPT", "LISTSCRIPTS", "SETACTIVE", "GETSCRIPT", "DELETESCRIPT", "RENAMESCRIPT":
			c.no("", "Authenticate first")
		default:
			c.no("", "Unknown command")
		}
		if c.bad++; c.bad >= maxBadCommands {
			return errTooManyBad
		}
		return nil
	}
	st, id := c.srv.opts.Store, c.account.ID
	switch name {
	case "HAVESPACE":
		if !want(2) {
			return nil
		}
		size, err := strconv.ParseInt(args[1], 10, 64)
		switch {
		case err != nil:
			c.no("", "Bad size")
		case store.CheckSieveName(args[0]) != nil:
			c.no("", "Bad script name")
		case size > int64(c.srv.opts.MaxScript):
			c.no("QUOTA/MAXSIZE", "Script too big")
		default:
			c.ok("", "Putscript would succeed")
		}
	case "PUTSCRIPT":
		if want(2) {
			c.storeResult(st.PutSieveScript(c.ctx, id, args[0], []byte(args[1])), "Script stored")
		}
	case "CHECKSCRIPT":
		if !want(1) {
			return nil
		}
		if _, err := sieve.Compile("script", []byte(args[0]), sieve.Options{}); err != nil {
			c.no("", err.Error())
		} else {
			c.ok("", "Script is valid")
		}
	case "LISTSCRIPTS":
		if !want(0) {
			return nil
		}
		list, err := st.SieveScripts(c.ctx, id)
		if err != nil {
			c.storeResult(err, "")
			return nil
		}
		for _, sc := range list {
			c.w.WriteString(str(sc.Name))
			if sc.Active {
				c.w.WriteString(" ACTIVE")
			}
			c.w.WriteString("\r\n")
		}
		c.ok("", "Listscripts completed")
	case "SETACTIVE":
		if want(1) {
			c.storeResult(st.ActivateSieveScript(c.ctx, id, args[0]), "Active script set")
		}
	case "GETSCRIPT":
		if !want(1) {
			return nil
		}
		sc, err := st.SieveScript(c.ctx, id, args[0])
		if err != nil {
			c.storeResult(err, "")
			return nil
		}
		// RFC 5804 2.9: the script as a literal.
		c.w.WriteString("{" + strconv.Itoa(len(sc.Content)) + "}\r\n")
		c.w.Write(sc.Content)
		c.w.WriteString("\r\n")
		c.ok("", "Getscript completed")
	case "DELETESCRIPT":
		if want(1) {
			c.storeResult(st.DeleteSieveScript(c.ctx, id, args[0]), "Script deleted")
		}
	case "RENAMESCRIPT":
		if want(2) {
			c.storeResult(st.RenameSieveScript(c.ctx, id, args[0], args[1]), "Script renamed")
		}
	default:
		c.no("", "Unknown command")
		c.bad++
	}
	if c.bad >= maxBadCommands {
		return errTooManyBad
	}
	return nil
}

// storeResult answers a store call with RFC 5804's response codes.
func (c *conn) storeResult(err error, okText string) {
	var se *sieve.Error
	switch {
	case err == nil:
		c.bad = 0
		c.ok("", okText)
	case errors.As(err, &se):
		c.no("", se.Error()) // line:col, about the user's own script
	case errors.Is(err, store.ErrInvalidScript):
		c.no("", "Invalid script name")
	case errors.Is(err, store.ErrNotFound):
		c.no("NONEXISTENT", "No such script")
	case errors.Is(err, store.ErrExists):
		c.no("ALREADYEXISTS", "A script of that name exists")
	case errors.Is(err, store.ErrNotPermitted):
		c.no("ACTIVE", "The active script cannot be deleted")
	case errors.Is(err, store.ErrOverQuota):
		c.no("QUOTA/MAXSCRIPTS", "Too many scripts")
	default:
		c.log.Warn("store error", "err", err)
		c.no("TRYLATER", "Temporary failure, try again later")
	}
}

// startTLS runs STARTTLS (RFC 5804 2.2): OK, the handshake, then the
// capabilities again, which may differ now.
func (c *conn) startTLS() error {
	if c.tls || c.srv.opts.TLS == nil || c.account != nil {
		c.no("", "STARTTLS not available")
		c.bad++
		return nil
	}
	c.ok("", "Begin TLS negotiation")
	if err := c.w.Flush(); err != nil {
		return err
	}
	if n := c.r.Buffered(); n > 0 {
		// Plaintext sent before the handshake must not run as commands
		// (STARTTLS command injection, CVE-2011-0411).
		c.log.Warn("discarding plaintext sent after STARTTLS", "octets", n)
		c.r.Discard(n)
	}
	tc, err := netserver.Handshake(c.ctx, c.raw, c.srv.opts.TLS, c.srv.opts.HandshakeTimeout)
	if err != nil {
		return err
	}
	c.nc, c.tls = tc, true
	c.r.Reset(deadlineReader{c})
	c.w.Reset(deadlineWriter{c})
	c.capabilities()
	c.ok("", "TLS negotiation successful")
	return nil
}

// authenticate runs AUTHENTICATE "PLAIN" (RFC 5804 2.1, RFC 4616) through
// the login service. Without an initial response the server sends an empty
// challenge and reads the client's response as a string.
func (c *conn) authenticate(args []string) error {
	if c.account != nil {
		c.no("", "Already authenticated")
		return nil
	}
	if len(args) < 1 || len(args) > 2 || !strings.EqualFold(args[0], "PLAIN") {
		c.no("", "Unsupported mechanism")
		c.bad++
		return nil
	}
	if !c.secure() {
		c.no("ENCRYPT-NEEDED", "Use STARTTLS first")
		return nil
	}
	resp := ""
	if len(args) == 2 {
		resp = args[1]
	} else {
		c.w.WriteString("\"\"\r\n")
		if err := c.w.Flush(); err != nil {
			return err
		}
		_, rargs, err := c.readResponse()
		if err != nil {
			return err
		}
		if len(rargs) != 1 || rargs[0] == "*" {
			c.no("", "Authentication aborted")
			return nil
		}
		resp = rargs[0]
	}
	dec, err := base64.StdEncoding.DecodeString(resp)
	parts := strings.Split(string(dec), "\x00")
	if err != nil || len(parts) != 3 {
		c.no("", "Malformed PLAIN response")
		c.bad++
		return nil
	}
	res := c.srv.opts.Login.Password(c.ctx, c.ip, parts[0], parts[1], parts[2])
	switch res.Outcome {
	case login.OK:
	case login.Wrong:
		c.log.Info("login failed", "login", res)
		c.no("", "Authentication failed")
		return nil
	case login.Blocked:
		c.log.Info("login refused: too many failed logins", "login", res)
		c.no("TRYLATER", "Too many failed logins, try again later")
		return nil
	default:
		if err := c.ctx.Err(); err != nil {
			return err
		}
		c.log.Warn("login could not be checked", "login", res)
		c.no("TRYLATER", "Temporary failure, try again later")
		return nil
	}
	c.account = res.Account
	c.bad = 0
	c.log = c.log.With("account", res.Account.Address)
	c.log.Info("logged in", "tls", c.tls)
	// An EndAccount since this command began ends the session at once.
	c.srv.ns.LoggedIn(c.acc, res.Account.ID, c.cmdStart)
	c.ok("", "Logged in")
	return nil
}

// readResponse reads the client's SASL response: one string on a line
// (the same syntax as a command's arguments, without the command name).
func (c *conn) readResponse() (string, []string, error) {
	name, args, err := c.readCommandArgs()
	var se *syntaxError
	if errors.As(err, &se) {
		return "", nil, nil
	}
	return name, args, err
}

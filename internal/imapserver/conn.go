package imapserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"gannet/internal/connlimit"
	"gannet/internal/imapwire"
	"gannet/internal/netserver"
	"gannet/internal/store"
)

// state is the connection state of RFC 9051 3.
type state uint8

const (
	stateNotAuth state = 1 << iota
	stateAuth
	stateSelected
)

// Errors that end the connection loop.
var (
	errShutdown   = errors.New("server shutting down")
	errTooManyBad = errors.New("too many bad commands")
	errLogout     = errors.New("logout")
	errGone       = errors.New("selected mailbox was deleted")
	errEnded      = errors.New("session ended by the server")
)

// conn is one client connection, served by one goroutine (serve). Only that
// goroutine touches its fields, except the atomics (see the package doc) and
// raw, which Shutdown and Close may interrupt or close.
type conn struct {
	srv *Server
	acc *netserver.Accepted
	raw net.Conn // the accepted connection
	nc  net.Conn // raw, or the TLS connection over it
	br  *bufio.Reader
	r   *imapwire.Reader
	bw  *bufio.Writer    // from the pool while a command runs, else nil
	wr  *imapwire.Writer // over bw; use out()
	log *slog.Logger
	// baseLog is log before login (UNAUTHENTICATE goes back to it).
	baseLog *slog.Logger
	ctx     context.Context
	// stop cancels ctx: End stops the store work of the running command.
	stop context.CancelFunc
	ip   netip.Addr

	tls   bool
	state state
	acct  *store.Account
	bad   int // BAD answers (before login: all; after: consecutive)

	// Enabled extensions (RFC 5161, RFC 9051 6.3.1).
	rev2, utf8, condstore, qresync bool

	sel   *selected // the selected mailbox, or nil
	saved []uint32  // SEARCHRES result (RFC 5182), as UIDs

	boundary bool         // waiting for the first octet of a command
	selID    atomic.Int64 // selected mailbox ID, 0 for none (dispatcher reads it)
	kicked   atomic.Bool  // the selected mailbox changed since the last sync
	idling   atomic.Bool  // in IDLE: kick interrupts the read
	woken    atomic.Bool  // the read deadline was moved to now on purpose
	ended    atomic.Bool  // EndAccount: no more reads, no writes but BYE
	final    bool         // writing the last BYE
	cmdStart time.Time    // when the running command began (a login's, for EndAccount)
}

func (s *Server) newConn(a *netserver.Accepted) *conn {
	c := &conn{
		srv:   s,
		acc:   a,
		raw:   a.Raw,
		nc:    a.Conn,
		tls:   a.TLS,
		log:   s.log.With("cid", a.ID, "remote", a.Raw.RemoteAddr().String()),
		state: stateNotAuth,
	}
	c.baseLog = c.log
	c.ctx, c.stop = context.WithCancel(a.Ctx)
	c.ip, _ = connlimit.AddrIP(a.Raw.RemoteAddr())
	c.br = bufio.NewReaderSize(connReader{c}, readBufSize)
	c.r = imapwire.NewReader(c.br, c.readerOptions())
	return c
}

func (c *conn) readerOptions() imapwire.Options {
	return imapwire.Options{
		MaxLine:    c.srv.opts.MaxLine,
		MaxLiteral: min(c.srv.opts.MaxLiteral, imapwire.DefaultMaxLiteral),
		MaxCommand: max(imapwire.DefaultMaxCommand, int64(c.srv.opts.MaxLine)*4),
		MaxDiscard: c.srv.opts.MaxLiteral + 1<<20,
		UTF8:       c.utf8,
		Continue: func() error {
			if err := c.out().Continue("Ready for literal data"); err != nil {
				return err
			}
			connlimit.QuickAck(c.raw)
			return nil
		},
	}
}

// out returns the response writer, taking a write buffer from the pool if
// the connection has none.
func (c *conn) out() *imapwire.Writer {
	if c.bw == nil {
		c.bw = c.srv.getWriter()
		c.bw.Reset(connWriter{c})
		c.wr = imapwire.NewWriter(c.bw)
		c.wr.SetUTF8(c.utf8)
	}
	return c.wr
}

// flush writes buffered responses; release also gives the write buffer back
// to the pool (the connection is about to wait).
func (c *conn) flush(release bool) error {
	if c.bw == nil {
		return nil
	}
	err := c.wr.Flush()
	if release || err != nil {
		c.srv.putWriter(c.bw)
		c.bw, c.wr = nil, nil
	}
	return err
}

// connReader gives every read a deadline (docs/ARCHITECTURE.md, "deadlines always"; RFC 9051 5.4
// autologout), flushes pending responses before it may block, and serves
// IDLE pushes and shutdown interrupts (see the package doc).
type connReader struct{ c *conn }

func (cr connReader) Read(p []byte) (int, error) {
	c := cr.c
	if err := c.flush(c.boundary || c.idling.Load()); err != nil {
		return 0, err
	}
	for {
		if c.ended.Load() {
			return 0, errEnded
		}
		c.woken.Store(false)
		idle := c.idling.Load()
		if c.srv.closing() && (idle || c.boundary) {
			return 0, errShutdown
		}
		if idle && c.kicked.Load() {
			if err := c.push(); err != nil {
				return 0, err
			}
			continue
		}
		if err := c.nc.SetReadDeadline(time.Now().Add(c.readTimeout())); err != nil {
			return 0, err
		}
		// Checked again after setting the deadline: an interrupt that came
		// before it was overwritten, so its flag must be seen here.
		if (c.srv.closing() && (idle || c.boundary)) || (idle && c.kicked.Load()) || c.ended.Load() {
			continue
		}
		n, err := c.nc.Read(p)
		if n > 0 {
			c.boundary = false
		}
		if n == 0 && err != nil && isTimeout(err) && c.woken.Load() {
			continue
		}
		return n, err
	}
}

// push sends the pending updates of the selected mailbox during IDLE.
func (c *conn) push() error {
	if err := c.sync(true); err != nil {
		return err
	}
	return c.flush(true)
}

type connWriter struct{ c *conn }

func (cw connWriter) Write(p []byte) (int, error) {
	if cw.c.ended.Load() && !cw.c.final {
		// The account changed: nothing more of it goes out.
		return 0, errEnded
	}
	if err := cw.c.nc.SetWriteDeadline(time.Now().Add(cw.c.srv.opts.WriteTimeout)); err != nil {
		return 0, err
	}
	return cw.c.nc.Write(p)
}

func (c *conn) readTimeout() time.Duration {
	if c.acct == nil {
		return c.srv.opts.PreauthTimeout
	}
	return c.srv.opts.IdleTimeout
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// Interrupt wakes a blocked read so that the loop notices a shutdown
// (netserver.Handler).
func (c *conn) Interrupt() {
	c.woken.Store(true)
	c.raw.SetReadDeadline(time.Now())
}

// End ends the session at once: its account changed (netserver.Handler,
// Server.EndAccount). The running command's store work is cancelled, its
// reads and writes fail, and serve says BYE.
func (c *conn) End() {
	c.ended.Store(true)
	c.stop()
	c.woken.Store(true)
	c.raw.SetReadDeadline(time.Now())
}

// Recovered says BYE after a panic (netserver.Handler); netserver logged it.
func (c *conn) Recovered() {
	c.bye("Internal error, closing connection")
	c.finish()
}

// kick marks the selected mailbox as changed; a session in IDLE is woken.
// Called by the dispatcher.
func (c *conn) kick() {
	c.kicked.Store(true)
	if c.idling.Load() {
		c.woken.Store(true)
		c.raw.SetReadDeadline(time.Now())
	}
}

// secure reports whether passwords may be sent: over TLS, or from loopback
// in dev mode (RFC 9051 6.2.3, RFC 8314).
func (c *conn) secure() bool {
	return c.tls || (c.srv.opts.Dev && c.ip.IsLoopback())
}

// Serve runs the connection until LOGOUT, error, timeout or shutdown
// (netserver.Handler; netserver ran any implicit TLS handshake).
func (c *conn) Serve() {
	defer c.srv.unregister(c)
	c.log.Debug("connection opened")
	// RFC 9051 7.1.1: the greeting, with capabilities (RFC 9051 7.1).
	w := c.out()
	w.Untagged()
	w.Atom("OK")
	c.capCode(w)
	w.Text(c.srv.opts.Hostname + " IMAP server ready")
	w.CRLF()
	err := c.loop()
	switch {
	case err == nil, errors.Is(err, errLogout):
	case c.ended.Load():
		c.log.Info("session ended: account changed")
		c.bye("Session ended by the server; log in again")
	case errors.Is(err, errShutdown):
		c.bye("Server shutting down")
	case isTimeout(err):
		c.bye("Autologout; idle for too long")
	case errors.Is(err, errTooManyBad):
		c.bye("Too many invalid commands")
	case errors.Is(err, errGone):
		c.bye("Selected mailbox was deleted")
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrUnexpectedEOF):
	default:
		var we *imapwire.Error
		if !errors.As(err, &we) {
			c.log.Warn("connection ended", "err", err)
		} else {
			c.log.Debug("connection ended", "err", err)
		}
	}
	c.flush(true)
	c.finish()
	c.log.Debug("connection closed")
}

// finish closes the connection through TLS after STARTTLS (c.nc is raw
// otherwise, or already TLS for implicit TLS), so that the client gets
// close_notify before the TCP FIN (RFC 8446 6.1); without it OpenSSL
// reports a truncation. It gives the write buffer back.
func (c *conn) finish() {
	c.nc.Close()
	if c.bw != nil {
		c.srv.putWriter(c.bw)
		c.bw, c.wr = nil, nil
	}
	c.stop()
}

// bye writes "* BYE text" with a short deadline (RFC 9051 7.1.5).
func (c *conn) bye(text string) {
	c.final = true
	if c.ended.Load() && c.bw != nil {
		// Drop what the ended session had not sent (and a write error
		// that bufio.Writer would keep).
		c.srv.putWriter(c.bw)
		c.bw, c.wr = nil, nil
	}
	c.nc.SetWriteDeadline(time.Now().Add(noticeTimeout))
	w := c.out()
	w.Status("", "BYE", "", text)
	c.flush(false)
}

// loop reads and runs commands until an error or LOGOUT.
func (c *conn) loop() error {
	for {
		c.boundary = c.br.Buffered() == 0
		if c.ended.Load() {
			return errEnded
		}
		if c.srv.closing() {
			return errShutdown
		}
		cmd, err := c.r.ReadCommand()
		if err == nil {
			err = c.run(cmd)
		}
		if err == nil {
			continue
		}
		var we *imapwire.Error
		if imapwire.IsFatal(err) || !errors.As(err, &we) {
			return err
		}
		// A syntax error, over-long line or refused literal: BAD (or NO
		// [TOOBIG]) and go on (RFC 9051 7.1.3).
		c.out().Status(we.Tag, we.Status(), we.Code(), we.Text)
		if err := c.r.Skip(); err != nil {
			return err
		}
		if we.Status() == "BAD" {
			if err := c.countBad(); err != nil {
				return err
			}
		}
	}
}

// countBad counts a BAD answer: 3 before login close the connection, as do
// many in a row after it.
func (c *conn) countBad() error {
	c.bad++
	if (c.acct == nil && c.bad >= maxBadPreauth) || c.bad >= maxBadAuth {
		return errTooManyBad
	}
	return nil
}

// command is one command being run.
type command struct {
	tag  string
	name string // e.g. "FETCH"; UID commands have uid set
	uid  bool
	p    *imapwire.Parser
	// code and text make the tagged OK: "tag OK [code] text".
	code string
	text string
	// done means the handler wrote the tagged response itself (STARTTLS).
	done bool
}

// run dispatches one command and writes its tagged response.
func (c *conn) run(ic imapwire.Command) error {
	c.cmdStart = time.Now()
	cmd := &command{tag: ic.Tag, name: ic.Name, p: ic.Args}
	spec, ok := lookup(ic.Name)
	if !ok {
		return ic.Args.Fail("unknown command")
	}
	if c.state&spec.states == 0 {
		return ic.Args.Fail("command not valid in this state")
	}
	err := spec.fn(c, cmd)
	if err == nil && c.acct != nil {
		c.bad = 0
	}
	var re *respError
	if err != nil && !errors.As(err, &re) {
		return err // BAD from the parser, or fatal
	}
	// Updates of the selected mailbox go before the tagged response; EXPUNGE
	// only when the command uses no sequence numbers (RFC 9051 7.5.1).
	if cmd.done {
		return nil
	}
	if serr := c.sync(!spec.seq); serr != nil {
		return serr
	}
	w := c.out()
	if re != nil {
		if re.cause != nil {
			c.log.Error("command failed", "cmd", cmd.name, "err", re.cause)
		}
		w.Status(cmd.tag, re.status, re.code, re.text)
		if re.status == "BAD" {
			return c.countBad()
		}
		return nil
	}
	text := cmd.text
	if text == "" {
		text = cmd.fullName() + " completed"
	}
	if err := w.Status(cmd.tag, "OK", cmd.code, text); err != nil {
		return err
	}
	if c.state == 0 {
		return errLogout
	}
	return nil
}

func (cmd *command) fullName() string {
	if cmd.uid {
		return "UID " + cmd.name
	}
	return cmd.name
}

// respError is a tagged NO or BAD answer. text is for the client and reveals
// nothing internal; cause, if any, is logged.
type respError struct {
	status string
	code   string
	text   string
	cause  error
}

func (e *respError) Error() string {
	s := e.status + " " + e.text
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func errNo(code, text string) error  { return &respError{status: "NO", code: code, text: text} }
func errBad(code, text string) error { return &respError{status: "BAD", code: code, text: text} }

// isBadName reports whether err is a mailbox name that is not modified
// UTF-7 (answered NO, imapwire.KindBadName).
func isBadName(err error) bool {
	var we *imapwire.Error
	return errors.As(err, &we) && we.Kind == imapwire.KindBadName
}

// badNameCode makes such an error answer with code instead of NONEXISTENT.
func badNameCode(err error, code string) {
	var we *imapwire.Error
	if errors.As(err, &we) && we.Kind == imapwire.KindBadName {
		we.SetCode(code, "Invalid mailbox name")
	}
}

// storeErr maps a store error to a NO answer (RFC 5530 response codes).
func storeErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNo("NONEXISTENT", "No such mailbox")
	case errors.Is(err, store.ErrExists):
		return errNo("ALREADYEXISTS", "Mailbox already exists")
	case errors.Is(err, store.ErrHasChildren):
		return errNo("HASCHILDREN", "Mailbox has children")
	case errors.Is(err, store.ErrInvalidName):
		return errNo("CANNOT", "Invalid mailbox name")
	case errors.Is(err, store.ErrNotPermitted):
		return errNo("CANNOT", "Operation not permitted")
	case errors.Is(err, store.ErrOverQuota):
		return errNo("OVERQUOTA", "Quota exceeded")
	case errors.Is(err, store.ErrStorageFull):
		// As Dovecot answers a full disk: the user can make room by deleting
		// mail, as with a quota (RFC 5530 3).
		return errNo("OVERQUOTA", "Not enough disk space")
	case errors.Is(err, store.ErrInvalidFlag):
		return errBad("", "Invalid flag")
	case errors.Is(err, store.ErrMailboxLocked):
		return errNo("INUSE", "Mailbox in use")
	}
	return &respError{status: "NO", code: "SERVERBUG", text: "Internal error; try again later", cause: err}
}

// cmdSpec says how to run a command.
type cmdSpec struct {
	fn     func(c *conn, cmd *command) error
	states state
	// seq marks commands that use sequence numbers: no EXPUNGE may be sent
	// while they run (RFC 9051 7.5.1).
	seq bool
}

const (
	anyState  = stateNotAuth | stateAuth | stateSelected
	authState = stateAuth | stateSelected
)

// lookup returns the handler of a command name (upper-case).
func lookup(name string) (cmdSpec, bool) {
	switch name {
	case "CAPABILITY":
		return cmdSpec{fn: (*conn).cmdCapability, states: anyState}, true
	case "NOOP":
		return cmdSpec{fn: (*conn).cmdNoop, states: anyState}, true
	case "LOGOUT":
		return cmdSpec{fn: (*conn).cmdLogout, states: anyState}, true
	case "ID":
		return cmdSpec{fn: (*conn).cmdID, states: anyState}, true
	case "STARTTLS":
		return cmdSpec{fn: (*conn).cmdStartTLS, states: stateNotAuth}, true
	case "LOGIN":
		return cmdSpec{fn: (*conn).cmdLogin, states: stateNotAuth}, true
	case "AUTHENTICATE":
		return cmdSpec{fn: (*conn).cmdAuthenticate, states: stateNotAuth}, true
	case "ENABLE":
		return cmdSpec{fn: (*conn).cmdEnable, states: authState}, true
	case "SELECT", "EXAMINE":
		return cmdSpec{fn: (*conn).cmdSelect, states: authState}, true
	case "CREATE":
		return cmdSpec{fn: (*conn).cmdCreate, states: authState}, true
	case "DELETE":
		return cmdSpec{fn: (*conn).cmdDelete, states: authState}, true
	case "RENAME":
		return cmdSpec{fn: (*conn).cmdRename, states: authState}, true
	case "SUBSCRIBE":
		return cmdSpec{fn: (*conn).cmdSubscribe, states: authState}, true
	case "UNSUBSCRIBE":
		return cmdSpec{fn: (*conn).cmdUnsubscribe, states: authState}, true
	case "LIST":
		return cmdSpec{fn: (*conn).cmdList, states: authState}, true
	case "LSUB":
		return cmdSpec{fn: (*conn).cmdLsub, states: authState}, true
	case "NAMESPACE":
		return cmdSpec{fn: (*conn).cmdNamespace, states: authState}, true
	case "STATUS":
		return cmdSpec{fn: (*conn).cmdStatus, states: authState}, true
	case "APPEND":
		return cmdSpec{fn: (*conn).cmdAppend, states: authState}, true
	case "GETQUOTA":
		return cmdSpec{fn: (*conn).cmdGetQuota, states: authState}, true
	case "GETQUOTAROOT":
		return cmdSpec{fn: (*conn).cmdGetQuotaRoot, states: authState}, true
	case "SETQUOTA":
		return cmdSpec{fn: (*conn).cmdSetQuota, states: authState}, true
	case "IDLE":
		return cmdSpec{fn: (*conn).cmdIdle, states: authState}, true
	case "CHECK":
		return cmdSpec{fn: (*conn).cmdCheck, states: stateSelected}, true
	case "CLOSE":
		return cmdSpec{fn: (*conn).cmdClose, states: stateSelected}, true
	case "UNAUTHENTICATE":
		return cmdSpec{fn: (*conn).cmdUnauthenticate, states: authState}, true
	case "UNSELECT":
		return cmdSpec{fn: (*conn).cmdUnselect, states: stateSelected}, true
	case "EXPUNGE":
		return cmdSpec{fn: (*conn).cmdExpunge, states: stateSelected}, true
	case "FETCH":
		return cmdSpec{fn: (*conn).cmdFetch, states: stateSelected, seq: true}, true
	case "STORE":
		return cmdSpec{fn: (*conn).cmdStore, states: stateSelected, seq: true}, true
	case "SEARCH":
		return cmdSpec{fn: (*conn).cmdSearch, states: stateSelected, seq: true}, true
	case "COPY":
		return cmdSpec{fn: (*conn).cmdCopy, states: stateSelected, seq: true}, true
	case "MOVE":
		return cmdSpec{fn: (*conn).cmdMove, states: stateSelected, seq: true}, true
	case "UID":
		// The UID variants allow EXPUNGE responses (RFC 9051 7.5.1).
		return cmdSpec{fn: (*conn).cmdUID, states: stateSelected}, true
	}
	return cmdSpec{}, false
}

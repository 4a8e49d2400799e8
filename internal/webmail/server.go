package webmail

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/login"
	"gannet/internal/store"
)

// Options configure a Server.
type Options struct {
	Store   store.Store        // required
	Sender  Sender             // sends composed mail; nil = LocalSender over Store
	Limiter *authlimit.Limiter // shared failed-login limiter; nil = a private one
	Login   *login.Service     // shared login service; nil = one over Store and Limiter
	Logger  *slog.Logger       // nil = discard
	// Secure marks cookies Secure (and __Host- prefixed): set it when the
	// server is reached over TLS, as in production.
	Secure bool
	// Hostname is the right-hand side of generated Message-IDs; default "localhost".
	Hostname string
	// SessionIdle is how long an unused session lives (default 24 h);
	// SessionMax bounds a session's whole life (default 7 days).
	SessionIdle time.Duration
	SessionMax  time.Duration
	Now         func() time.Time // clock; nil = time.Now
	// Front, when set, sees every request first and answers those it
	// owns (client autoconfiguration and MTA-STS, internal/autoconfig),
	// passing the others on to the webmail.
	Front func(next http.Handler) http.Handler
	// MobileConfig makes the Apple configuration profile of an address,
	// offered to a logged-in user for their own (mobileconfig.go); nil =
	// not offered.
	MobileConfig func(address string) ([]byte, error)
}

// Limits of what a client may send.
const (
	maxJSONBody    = 1 << 20  // JSON requests
	maxComposeBody = 30 << 20 // a message with its attachments
	maxUIDs        = 10000    // UIDs in one action
	pageDefault    = 50
	pageMax        = 500
)

// Server is the webmail HTTP server. It looks like http.Server: Serve,
// Shutdown, Close; Handler exposes the routes for callers that run their own
// http.Server (or tests).
type Server struct {
	opts     Options
	log      *slog.Logger
	sessions *sessions
	cop      *http.CrossOriginProtection
	strict   *sanitizer // message HTML, remote images blocked
	remote   *sanitizer // message HTML, remote images allowed by the user
	handler  http.Handler
	srv      *http.Server

	// streams is cancelled by Shutdown and Close so that long-lived event
	// streams end (http.Server.Shutdown waits for handlers, and never
	// cancels their contexts itself).
	streams context.Context
	stop    context.CancelFunc
}

// New returns a Server. Options.Store is required.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Limiter == nil {
		opts.Limiter = authlimit.New(authlimit.Config{})
	}
	if opts.Login == nil {
		opts.Login = login.New(opts.Store, opts.Limiter, login.Config{Logger: opts.Logger})
	}
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	if opts.Sender == nil {
		opts.Sender = LocalSender{Store: opts.Store}
	}
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = 24 * time.Hour
	}
	if opts.SessionMax <= 0 {
		opts.SessionMax = 7 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:     opts,
		log:      opts.Logger.With("proto", "http"),
		sessions: newSessions(opts.Store, opts.SessionIdle, opts.SessionMax, opts.Now),
		cop:      http.NewCrossOriginProtection(),
		strict:   newSanitizer(false),
		remote:   newSanitizer(true),
	}
	s.streams, s.stop = context.WithCancel(context.Background())
	s.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
	}))
	s.handler = s.routes()
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		// Uploads of large attachments over slow links need time; the event
		// stream extends its own write deadline before every write.
		ReadTimeout:  5 * time.Minute,
		WriteTimeout: 5 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler returns the webmail's HTTP handler (UI, API and events).
func (s *Server) Handler() http.Handler { return s.handler }

// Serve accepts connections on ln until Shutdown or Close, then returns
// http.ErrServerClosed. A listener from tls.NewListener gives HTTPS.
func (s *Server) Serve(ln net.Listener) error {
	return s.srv.Serve(ln)
}

// Shutdown ends event streams, stops accepting, and waits for requests in
// flight until ctx is done, like http.Server.Shutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	return s.srv.Shutdown(ctx)
}

// Close closes every listener and connection at once.
func (s *Server) Close() error {
	s.stop()
	return s.srv.Close()
}

// routes builds the handler tree: security headers and panic recovery around
// everything, the cross-origin check around every state-changing request.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// The UI.
	mux.Handle("GET /", s.staticHandler())

	// Session.
	mux.HandleFunc("POST /api/login", s.handleLogin)
	mux.HandleFunc("POST /api/logout", s.authed(s.handleLogout))
	mux.HandleFunc("GET /api/session", s.authed(s.handleSession))

	// Mailboxes.
	mux.HandleFunc("GET /api/mailboxes", s.authed(s.handleMailboxes))
	mux.HandleFunc("POST /api/mailboxes", s.authed(s.handleCreateMailbox))
	mux.HandleFunc("PATCH /api/mailboxes/{mid}", s.authed(s.handleRenameMailbox))
	mux.HandleFunc("DELETE /api/mailboxes/{mid}", s.authed(s.handleDeleteMailbox))
	mux.HandleFunc("POST /api/mailboxes/{mid}/empty", s.authed(s.handleEmpty))
	mux.HandleFunc("GET /api/mailboxes/{mid}/mbox", s.authed(s.handleMboxDownload))
	mux.HandleFunc("GET /api/export.zip", s.authed(s.handleZipDownload))

	// Messages.
	mux.HandleFunc("GET /api/mailboxes/{mid}/messages", s.authed(s.handleList))
	mux.HandleFunc("GET /api/mailboxes/{mid}/messages/{uid}", s.authed(s.handleMessage))
	mux.HandleFunc("GET /api/mailboxes/{mid}/messages/{uid}/body", s.authed(s.handleBody))
	mux.HandleFunc("GET /api/mailboxes/{mid}/messages/{uid}/parts/{section}", s.authed(s.handlePart))
	mux.HandleFunc("POST /api/mailboxes/{mid}/messages/flags", s.authed(s.handleFlags))
	mux.HandleFunc("POST /api/mailboxes/{mid}/messages/move", s.authed(s.handleMove))
	mux.HandleFunc("POST /api/mailboxes/{mid}/messages/delete", s.authed(s.handleDelete))

	// Compose.
	mux.HandleFunc("GET /api/identities", s.authed(s.handleIdentities))
	mux.HandleFunc("GET /api/mobileconfig", s.authed(s.handleMobileConfig))
	mux.HandleFunc("POST /api/send", s.authed(s.handleSend))
	mux.HandleFunc("POST /api/drafts", s.authed(s.handleSaveDraft))

	// Live updates.
	mux.HandleFunc("GET /api/events", s.authed(s.handleEvents))

	mux.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	})
	h := s.securityHeaders(s.cop.Handler(mux))
	if s.opts.Front != nil {
		h = s.opts.Front(h)
	}
	return s.recoverer(h)
}

// Package smtptest runs real SMTP servers (github.com/emersion/go-smtp) on
// 127.0.0.1 for tests of the client and the queue: they record what they
// receive and answer as each test tells them. Only tests import it.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options say how a Server behaves. Hooks run on the server's goroutines and
// must be safe for concurrent use; returning an *smtp.SMTPError chooses the
// reply.
type Options struct {
	TLS             *tls.Config       // offer STARTTLS with this config
	Users           map[string]string // offer AUTH PLAIN (over TLS) with these credentials and require it
	DSN             bool              // offer DSN
	SMTPUTF8        bool              // offer SMTPUTF8
	MaxMessageBytes int64             // offer SIZE n
	Mail            func(from string) error
	Rcpt            func(to string) error
	Data            func(m Message) error
	// DataHook runs when DATA starts, before the content is read: tests use
	// it to stall a transaction.
	DataHook func()
}

// Message is one message a Server accepted (or refused in Data).
type Message struct {
	From     string
	MailOpts smtp.MailOptions
	To       []string
	RcptOpts []smtp.RcptOptions
	Data     []byte
	TLS      bool
	User     string // authenticated user, if any
	Conn     int    // which connection (1, 2, ...) carried it
}

// Server is a running test server.
type Server struct {
	Addr string
	srv  *smtp.Server
	opts Options

	mu    sync.Mutex
	conns int
	msgs  []Message
	recv  chan struct{}
}

// Start runs a server on 127.0.0.1:0 until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{opts: o, recv: make(chan struct{}, 1024)}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "sink.test"
	srv.TLSConfig = o.TLS
	srv.EnableDSN = o.DSN
	srv.EnableSMTPUTF8 = o.SMTPUTF8
	srv.MaxMessageBytes = o.MaxMessageBytes
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.Addr = ln.Addr().String()
	go srv.Serve(&countingListener{Listener: ln, s: s})
	t.Cleanup(func() { srv.Close() })
	return s
}

// Connections reports how many connections the server has accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait returns once n messages were accepted, failing the test after 20 s.
func (s *Server) Wait(t testing.TB, n int) []Message {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.recv:
		case <-deadline.C:
			t.Fatalf("smtptest: %d messages after 20 s, want %d", len(s.Messages()), n)
		}
	}
}

// countingListener counts TCP connections (go-smtp starts a new session
// after STARTTLS, so sessions are not connections).
type countingListener struct {
	net.Listener
	s *Server
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.mu.Lock()
		l.s.conns++
		l.s.mu.Unlock()
	}
	return c, err
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	n := s.conns
	s.mu.Unlock()
	return &session{s: s, c: c, conn: n}, nil
}

type session struct {
	s    *Server
	c    *smtp.Conn
	conn int
	user string
	m    Message
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if pw, ok := ss.s.opts.Users[username]; !ok || pw != password {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if ss.s.opts.Users != nil && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	if f := ss.s.opts.Mail; f != nil {
		if err := f(from); err != nil {
			return err
		}
	}
	ss.m = Message{From: from, Conn: ss.conn, User: ss.user}
	if opts != nil {
		ss.m.MailOpts = *opts
	}
	return nil
}

func (ss *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if f := ss.s.opts.Rcpt; f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	ss.m.To = append(ss.m.To, to)
	var o smtp.RcptOptions
	if opts != nil {
		o = *opts
	}
	ss.m.RcptOpts = append(ss.m.RcptOpts, o)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	if f := ss.s.opts.DataHook; f != nil {
		f()
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := ss.m
	m.Data = data
	_, m.TLS = ss.c.TLSConnectionState()
	if f := ss.s.opts.Data; f != nil {
		if err := f(m); err != nil {
			return err
		}
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, m)
	ss.s.mu.Unlock()
	select {
	case ss.s.recv <- struct{}{}:
	default:
	}
	return nil
}

func (ss *session) Reset()        { ss.m = Message{} }
func (ss *session) Logout() error { return nil }

// Cert is a self-signed certificate for 127.0.0.1 and localhost.
type Cert struct {
	Server *tls.Config     // for a server
	Pool   *x509.CertPool  // trusts the certificate
	Leaf   tls.Certificate // the pair
}

// SelfSigned makes a fresh self-signed certificate for tests.
func SelfSigned(t testing.TB) Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		DNSNames:              []string{"localhost", "smarthost.test", "mx.test"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pair := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return Cert{
		Server: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
		Pool:   pool,
		Leaf:   pair,
	}
}

// Refuse makes an *smtp.SMTPError for hooks: Refuse(550, "5.1.1", "no such user").
// A plain error from a hook would become "554 5.0.0".
func Refuse(code int, enhanced string, text string) error {
	ec := smtp.NoEnhancedCode
	if parts := strings.Split(enhanced, "."); len(parts) == 3 {
		ec = smtp.EnhancedCode{}
		for i, p := range parts {
			ec[i], _ = strconv.Atoi(p)
		}
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: text}
}

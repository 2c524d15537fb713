package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// Distinctive fake secrets, so a leak is unmistakable.
const (
	testUser     = "alerts@example.com"
	testPassword = "LeakCanarySmtpPassword-7f3a9c"
	wrongPass    = "LeakCanaryWrongPassword-e41b0d"
)

// testCert is a self-signed CA certificate for 127.0.0.1 and localhost,
// generated once per test binary: the test servers present it, and the
// plugin trusts it through ca_cert_pem.
var testCert = sync.OnceValue(func() struct {
	pem  string
	pair tls.Certificate
} {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "PUOD test SMTP server", Organization: []string{"PUOD tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		panic(err)
	}
	pair, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		panic(err)
	}
	return struct {
		pem  string
		pair tls.Certificate
	}{string(certPEM), pair}
})

// serverOptions shape a test SMTP server.
type serverOptions struct {
	// TLS: "starttls" (the default: plain listener offering STARTTLS),
	// "tls" (implicit TLS listener) or "none" (no TLS at all).
	TLS string
	// Users require authentication (user → password) with Mechs (default
	// PLAIN and LOGIN), only over TLS.
	Users map[string]string
	Mechs []string
	// Listen is the address to listen on (default 127.0.0.1:0).
	Listen string
	// EchoPassword makes a failed authentication quote the password it got
	// in its reply, as a careless server might.
	EchoPassword bool
}

// fault is an answer the server gives instead of accepting.
type fault struct {
	Stage string // "mail", "rcpt" or "data"
	Rcpt  string // for "rcpt": the address refused ("" for all)
	Err   *smtp.SMTPError
	Hang  bool // never answer (until the test ends)
}

// received is a message the server accepted.
type received struct {
	From string
	To   []string
	Data []byte
	User string // authenticated user, if any
	TLS  bool
}

// mailServer is a real SMTP server (emersion/go-smtp) listening on
// 127.0.0.1, recording what it receives.
type mailServer struct {
	opts    serverOptions
	srv     *smtp.Server
	host    string
	port    int
	release chan struct{}

	mu       sync.Mutex
	msgs     []received
	faults   []fault
	sessions int
}

func startServer(t *testing.T, opts serverOptions) *mailServer {
	t.Helper()
	if opts.TLS == "" {
		opts.TLS = tlsStartTLS
	}
	if opts.Users != nil && opts.Mechs == nil {
		opts.Mechs = []string{sasl.Plain, sasl.Login}
	}
	ms := &mailServer{opts: opts, release: make(chan struct{})}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		ms.mu.Lock()
		ms.sessions++
		ms.mu.Unlock()
		return &smtpSession{ms: ms, conn: c}, nil
	}))
	s.Domain = "mx.test.local"
	s.ReadTimeout, s.WriteTimeout = time.Minute, time.Minute
	s.ErrorLog = discardLogger{}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{testCert().pair}, MinVersion: tls.VersionTLS12}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		t.Fatal(err)
	}
	switch opts.TLS {
	case tlsStartTLS:
		s.TLSConfig = tlsCfg
	case tlsImplicit:
		s.TLSConfig = tlsCfg
		l = tls.NewListener(l, tlsCfg)
	}
	ms.srv, ms.host, ms.port = s, l.Addr().(*net.TCPAddr).IP.String(), l.Addr().(*net.TCPAddr).Port
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() {
		close(ms.release)
		_ = s.Close()
	})
	return ms
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

func (ms *mailServer) inject(f fault) {
	ms.mu.Lock()
	ms.faults = append(ms.faults, f)
	ms.mu.Unlock()
}

func (ms *mailServer) clearFaults() {
	ms.mu.Lock()
	ms.faults = nil
	ms.mu.Unlock()
}

func (ms *mailServer) messages() []received {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]received(nil), ms.msgs...)
}

func (ms *mailServer) sessionCount() int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.sessions
}

// answer returns the fault for a stage (and recipient), hanging if asked.
func (ms *mailServer) answer(stage, rcpt string) error {
	ms.mu.Lock()
	var hit *fault
	for i := range ms.faults {
		f := ms.faults[i]
		if f.Stage == stage && (f.Rcpt == "" || strings.EqualFold(f.Rcpt, rcpt)) {
			hit = &f
			break
		}
	}
	ms.mu.Unlock()
	if hit == nil {
		return nil
	}
	if hit.Hang {
		<-ms.release
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "shutting down"}
	}
	return hit.Err
}

type smtpSession struct {
	ms   *mailServer
	conn *smtp.Conn
	from string
	to   []string
	user string
}

func (s *smtpSession) AuthMechanisms() []string { return s.ms.opts.Mechs }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if want, ok := s.ms.opts.Users[user]; !ok || want != pass {
			if s.ms.opts.EchoPassword {
				return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials for " + user + " with password " + pass}
			}
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.ms.opts.Users != nil && s.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	if err := s.ms.answer("mail", ""); err != nil {
		return err
	}
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.ms.answer("rcpt", to); err != nil {
		return err
	}
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := s.ms.answer("data", ""); err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.ms.mu.Lock()
	s.ms.msgs = append(s.ms.msgs, received{From: s.from, To: append([]string(nil), s.to...), Data: b, User: s.user, TLS: isTLS})
	s.ms.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN (go-sasl has only the
// client).
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if len(resp) > 0 {
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(l.user, string(resp))
}

// config is a configuration pointing at ms, trusting the test CA (the
// tls mode follows the server's unless extra sets it).
func (ms *mailServer) config(extra map[string]any) json.RawMessage {
	c := map[string]any{
		"host": ms.host, "port": ms.port, "tls": ms.opts.TLS,
		"from": "PUOD Alerts <alerts@example.com>", "to": []string{"ops@example.com", "Dados Team <dados@example.com>"},
		"timeout_seconds": 5,
	}
	if ms.opts.TLS != tlsNone {
		c["ca_cert_pem"] = testCert().pem
	}
	if ms.opts.Users != nil {
		c["username"] = testUser
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	b, _ := json.Marshal(c)
	return b
}

// env is the plugin served in-process over go-plugin's gRPC transport,
// its log captured.
type env struct {
	client *sdk.Client
	logs   *syncBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{logs: &syncBuffer{}}
	e.client = plugintest.Serve(t, e.plugin())
	return e
}

func (e *env) plugin() sdk.Plugin[Config] {
	p := newPlugin(deps{})
	p.Logger = hclog.New(&hclog.LoggerOptions{Name: "puod.email", Output: e.logs, Level: hclog.Trace, JSONFormat: true})
	return p
}

var instanceSeq struct {
	sync.Mutex
	n int
}

// configure configures a fresh instance (its own memory of deliveries).
func (e *env) configure(t *testing.T, cfg json.RawMessage, secrets map[string]string) string {
	t.Helper()
	instanceSeq.Lock()
	instanceSeq.n++
	id := fmt.Sprintf("mail-%d", instanceSeq.n)
	instanceSeq.Unlock()
	if err := e.client.Configure(context.Background(), sdk.InstanceConfig{ID: id, Revision: 1, Config: cfg, Secrets: secrets}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return id
}

func (e *env) notify(t *testing.T, id string, n sdk.Notification) sdk.NotifyResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := e.client.Notify(ctx, id, n)
	if err != nil {
		t.Fatalf("Notify(%s): %v", n.ID, err)
	}
	return res
}

// firing and resolved are the reference scenario's alert.
func firing() sdk.Notification { f, _ := plugintest.ReferenceAlert(); return f }

func resolved() sdk.Notification { _, r := plugintest.ReferenceAlert(); return r }

// group is a group notification of three alerts of one rule, two firing
// and one resolved.
func group() sdk.Notification {
	a := firing()
	a.ID = "ntf_g1_a"
	b := firing()
	b.ID, b.PipelineName, b.RunExternalID, b.Value, b.Title = "ntf_g1_b", "ETL_Compras", "2203", "9m01s", "ETL_Compras took 9m01s"
	b.Summary, b.Severity = "Run 2203 of ETL_Compras took 9m01s.", "warning"
	b.Links = []sdk.Link{{Title: "Open in PUOD", URL: "http://127.0.0.1:8080/runs/src_airflow/2203"}}
	c := resolved()
	c.ID, c.PipelineName, c.RunExternalID, c.Title = "ntf_g1_c", "ETL_Estoque", "3301", "ETL_Estoque took 6m40s"
	c.Summary = "ETL_Estoque is back under 5m."
	return sdk.Notification{
		ID: "ntf_g1", Status: sdk.NotificationFiring, RuleID: "rule-etl-vendas", RuleName: "ETL_Vendas slower than 5m",
		Severity: "critical", Title: "2 firing, 1 resolved — ETL slower than 5 min", Summary: "Three ETL pipelines crossed the 5 minute threshold.",
		Labels: map[string]string{"team": "dados"}, GroupKey: "rule-etl-vendas", Alerts: []sdk.Notification{a, b, c},
	}
}

// parsed is a received message taken apart.
type parsed struct {
	Header    mail.Header
	Subject   string
	Text      string
	HTML      string
	Encodings []string // Content-Transfer-Encoding of each part
	Raw       []byte
}

// parseMessage reads a message as a mail client would: net/mail for the
// headers, mime/multipart for the alternatives, quoted-printable decoded
// by hand so the test sees the transfer encoding.
func parseMessage(t *testing.T, raw []byte) parsed {
	t.Helper()
	for i, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line %d is %d characters long (SMTP allows 998)", i+1, len(line))
		}
		if strings.Contains(line, "\n") {
			t.Errorf("line %d has a bare line feed", i+1)
		}
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not an RFC 5322 message: %v\n%s", err, raw)
	}
	p := parsed{Header: m.Header, Raw: raw}
	dec := new(mime.WordDecoder)
	if p.Subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		t.Fatalf("subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		cte := part.Header.Get("Content-Transfer-Encoding")
		p.Encodings = append(p.Encodings, cte)
		var body []byte
		if strings.EqualFold(cte, "quoted-printable") {
			body, err = io.ReadAll(quotedprintable.NewReader(part))
		} else {
			body, err = io.ReadAll(part)
		}
		if err != nil {
			t.Fatalf("part body: %v", err)
		}
		ct, cparams, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if cparams["charset"] != "utf-8" {
			t.Errorf("part %s has charset %q, want utf-8", ct, cparams["charset"])
		}
		switch ct {
		case "text/plain":
			p.Text = string(body)
		case "text/html":
			p.HTML = string(body)
		default:
			t.Errorf("unexpected part %s", ct)
		}
	}
	if p.Text == "" || p.HTML == "" {
		t.Fatalf("want a text/plain and a text/html part, got text %d bytes, html %d bytes", len(p.Text), len(p.HTML))
	}
	return p
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

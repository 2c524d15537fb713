package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/sdk"
)

// deps are what tests replace: the dialer and the clock.
type deps struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	now  func() time.Time
}

// sink is one configured e-mail destination.
type sink struct {
	cfg  Config
	tls  *tls.Config
	log  hclog.Logger
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	now  func() time.Time
	// sent remembers, per notification, the recipients already served.
	sent *ledger
}

var (
	_ sdk.AlertSink     = (*sink)(nil)
	_ sdk.HealthChecker = (*sink)(nil)
)

func (d deps) newSink(_ context.Context, cfg Config, env sdk.Env) (any, error) {
	cfg = cfg.withDefaults()
	var tc *tls.Config
	if cfg.TLS != tlsNone {
		var err error
		if tc, err = cfg.tlsConfig(); err != nil {
			return nil, err
		}
	}
	dial := d.dial
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	now := d.now
	if now == nil {
		now = time.Now
	}
	log := env.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &sink{cfg: cfg, tls: tc, log: log, dial: dial, now: now, sent: newLedger(ledgerSize)}, nil
}

// Notify sends one notification as one message to the configured
// recipients. It makes a single attempt: the host's outbox retries (with
// the same notification id) on a retryable answer.
//
// Recipients: a recipient the server refuses for good (5xx to RCPT TO) is
// logged and skipped, and the message goes to the others; the notification
// counts as delivered when at least one recipient got it, because
// retrying would send it again to those who did while the refused address
// stays refused. A recipient the server defers (4xx) makes the answer
// retryable after the message went to the others; the retry (same
// notification, same process) goes only to the recipients not served yet.
// Only when every recipient is refused is the notification permanently
// failed.
func (s *sink) Notify(ctx context.Context, n sdk.Notification) error {
	all := s.cfg.recipients()
	pending := s.sent.pending(n.ID, all)
	if len(pending) == 0 {
		// Every recipient got it (or refused it) in an earlier call: the
		// host is retrying after losing our answer. Sending again would
		// only make a duplicate.
		s.log.Debug("notification already delivered, not sent again", "id", n.ID)
		return s.sent.outcome(n.ID)
	}
	msg, err := buildEmail(n, s.cfg, s.now())
	if err != nil {
		return &sdk.Error{Kind: sdk.KindInternal, Message: fmt.Sprintf("build the e-mail for notification %s", n.ID), Err: err}
	}
	res, err := s.send(ctx, msg, pending)
	s.sent.record(n.ID, res.delivered, res.refused)
	if len(res.refused) > 0 {
		s.log.Warn("the smtp server refused recipients of the notification", "id", n.ID, "refused", res.refusedText(), "delivered_to", len(res.delivered))
	}
	if err != nil {
		err = s.redact(err)
		s.log.Warn("the smtp server did not take the notification", "id", n.ID, "status", n.Status, "server", s.cfg.addr(), "error", err.Error())
		return err
	}
	if len(res.deferred) > 0 {
		err := sdk.RetryableError(0, "delivered to %d of %d recipients; the server deferred %s: retrying for them later", len(res.delivered), len(pending), res.deferredText())
		s.log.Warn("some recipients deferred the notification", "id", n.ID, "error", err.Error())
		return err
	}
	if len(res.delivered) == 0 {
		// Every recipient of this attempt refused it.
		return s.sent.outcome(n.ID)
	}
	s.log.Debug("notification delivered by e-mail", "id", n.ID, "status", n.Status, "message_id", msg.MessageID, "recipients", len(res.delivered), "bytes", len(msg.Bytes))
	return nil
}

// result is what one transaction did per recipient.
type result struct {
	delivered []string
	refused   map[string]string // address → the server's reply (5xx)
	deferred  map[string]string // address → the server's reply (4xx)
}

func (r result) refusedText() string  { return replies(r.refused) }
func (r result) deferredText() string { return replies(r.deferred) }

func replies(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, "<"+k+"> ("+m[k]+")")
	}
	return strings.Join(parts, ", ")
}

// session is one SMTP connection, bounded by a deadline.
type session struct {
	c        *smtp.Client
	conn     net.Conn
	stage    string // what the conversation is doing, for errors
	deadline time.Time
	stop     func() bool
	tlsState *tls.ConnectionState
	mech     string
}

func (ss *session) close() {
	ss.stop()
	if ss.c != nil {
		_ = ss.c.Close()
	} else {
		_ = ss.conn.Close()
	}
}

// open connects, greets, secures and authenticates. The whole exchange,
// and what follows on the session, ends by the deadline: the sink's
// timeout, or a little before the caller's deadline, so a slow server
// gets a retryable answer rather than the host's own time-out.
func (s *sink) open(ctx context.Context) (*session, error) {
	deadline := s.now().Add(s.cfg.timeout())
	if dl, ok := ctx.Deadline(); ok {
		margin := max(0, min(time.Second, time.Until(dl)/10))
		if d := dl.Add(-margin); d.Before(deadline) {
			deadline = d
		}
	}
	ss := &session{stage: "connect", deadline: deadline}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	conn, err := s.dial(dctx, "tcp", s.cfg.addr())
	if err != nil {
		return nil, s.failure(ctx, ss, err)
	}
	ss.conn = conn
	// A host that cancels the call (it is shutting down) closes the
	// connection at once; the deadline bounds everything else.
	ss.stop = context.AfterFunc(ctx, func() { _ = conn.Close() })
	_ = conn.SetDeadline(deadline)
	if s.cfg.TLS == tlsImplicit {
		ss.stage = "TLS handshake"
		tc := tls.Client(conn, s.tls)
		if err := tc.HandshakeContext(dctx); err != nil {
			ss.close()
			return nil, s.failure(ctx, ss, err)
		}
		ss.conn = tc
		st := tc.ConnectionState()
		ss.tlsState = &st
	}
	ss.stage = "greeting"
	c, err := smtp.NewClient(ss.conn, s.cfg.Host)
	if err != nil {
		ss.close()
		return nil, s.failure(ctx, ss, err)
	}
	ss.c = c
	ss.stage = "EHLO"
	if err := c.Hello(s.cfg.HeloName); err != nil {
		ss.close()
		return nil, s.failure(ctx, ss, err)
	}
	if s.cfg.TLS == tlsStartTLS {
		ss.stage = "STARTTLS"
		if ok, _ := c.Extension("STARTTLS"); !ok {
			ss.close()
			return nil, sdk.PermanentError("the SMTP server %s does not offer STARTTLS, and tls is starttls: nothing is sent in clear text. Fix the tls setting: \"tls\" if the port expects implicit TLS (465), or \"none\" only for a local test server; or use a server that offers STARTTLS", s.cfg.addr())
		}
		if err := c.StartTLS(s.tls); err != nil {
			ss.close()
			return nil, s.failure(ctx, ss, err)
		}
		if st, ok := c.TLSConnectionState(); ok {
			ss.tlsState = &st
		}
	}
	if s.cfg.Username != "" {
		ss.stage = "AUTH"
		ok, params := c.Extension("AUTH")
		mechs := strings.Fields(strings.ToUpper(params))
		var a smtp.Auth
		switch {
		case !ok:
			ss.close()
			return nil, sdk.PermanentError("the SMTP server %s offers no authentication (AUTH) on this connection, and a username is set: remove username and password if the server relays without them, or use its submission port (587)", s.cfg.addr())
		case slices.Contains(mechs, "PLAIN"):
			a, ss.mech = &plainAuth{user: s.cfg.Username, pass: s.cfg.Password}, "PLAIN"
		case slices.Contains(mechs, "LOGIN"):
			a, ss.mech = &loginAuth{user: s.cfg.Username, pass: s.cfg.Password}, "LOGIN"
		default:
			ss.close()
			return nil, sdk.PermanentError("the SMTP server %s offers authentication by %s only; puod.email supports PLAIN and LOGIN (over TLS)", s.cfg.addr(), strings.Join(mechs, ", "))
		}
		if err := c.Auth(a); err != nil {
			ss.close()
			return nil, s.failure(ctx, ss, err)
		}
	}
	return ss, nil
}

// send runs one transaction: MAIL FROM, RCPT TO for each pending
// recipient, DATA. The result says what became of each recipient; the
// error, when the transaction as a whole failed, is typed (retryable or
// permanent).
func (s *sink) send(ctx context.Context, msg email, rcpts []*mail.Address) (result, error) {
	res := result{refused: map[string]string{}, deferred: map[string]string{}}
	ss, err := s.open(ctx)
	if err != nil {
		return res, err
	}
	defer ss.close()
	c := ss.c

	ss.stage = "MAIL FROM"
	if err := c.Mail(s.cfg.sender().Address); err != nil {
		return res, s.failure(ctx, ss, err)
	}
	var accepted []string
	for _, r := range rcpts {
		ss.stage = "RCPT TO <" + r.Address + ">"
		err := c.Rcpt(r.Address)
		var te *textproto.Error
		switch {
		case err == nil:
			accepted = append(accepted, r.Address)
		case errors.As(err, &te) && te.Code >= 500:
			res.refused[r.Address] = reply(te)
		case errors.As(err, &te) && te.Code >= 400:
			res.deferred[r.Address] = reply(te)
		default:
			return result{refused: res.refused}, s.failure(ctx, ss, err)
		}
	}
	if len(accepted) == 0 {
		_ = c.Reset()
		_ = c.Quit()
		if len(res.deferred) > 0 {
			return res, sdk.RetryableError(0, "no recipient took the message: the SMTP server deferred %s; retrying later", res.deferredText())
		}
		return res, nil // every recipient refused: the caller decides with what came before
	}

	ss.stage = "DATA"
	w, err := c.Data()
	if err != nil {
		return result{refused: res.refused}, s.failure(ctx, ss, err)
	}
	ss.stage = "sending the message"
	if _, err := w.Write(msg.Bytes); err != nil {
		return result{refused: res.refused}, s.failure(ctx, ss, err)
	}
	ss.stage = "end of message"
	if err := w.Close(); err != nil {
		return result{refused: res.refused}, s.failure(ctx, ss, err)
	}
	res.delivered = accepted
	// The server took the message: a failing QUIT changes nothing.
	ss.stage = "QUIT"
	_ = c.Quit()
	return res, nil
}

// CheckHealth connects, secures the connection, authenticates when
// credentials are set, and quits: it proves the settings without sending
// mail.
func (s *sink) CheckHealth(ctx context.Context) (sdk.Health, error) {
	ss, err := s.open(ctx)
	if err != nil {
		return sdk.Health{Status: sdk.HealthError, Message: s.redact(err).Error()}, nil
	}
	defer ss.close()
	var b strings.Builder
	fmt.Fprintf(&b, "connected to %s", s.cfg.addr())
	details := map[string]any{"server": s.cfg.addr(), "tls": s.cfg.TLS, "recipients": len(s.cfg.To)}
	if ss.tlsState != nil {
		v := tls.VersionName(ss.tlsState.Version)
		fmt.Fprintf(&b, " over %s (certificate verified)", v)
		details["tls_version"] = v
	} else {
		b.WriteString(" without TLS (tls none: for local test servers only)")
	}
	if ss.mech != "" {
		fmt.Fprintf(&b, ", authenticated as %s (%s)", s.cfg.Username, ss.mech)
		details["auth"] = ss.mech
	}
	fmt.Fprintf(&b, "; alerts go to %d recipient(s) from %s", len(s.cfg.To), s.cfg.sender().Address)
	_ = ss.c.Quit()
	return sdk.Health{Status: sdk.HealthOK, Message: b.String(), Details: details}, nil
}

// failure maps an error met at a stage of the conversation onto the
// outbox's outcomes: the server's 4xx and every network trouble are
// retryable, its 5xx permanent (with the reply and a remedy), a
// certificate that cannot be verified permanent (retrying cannot make it
// trusted). The host's own cancellation is returned as such.
func (s *sink) failure(ctx context.Context, ss *session, err error) error {
	if parent := context.Cause(ctx); parent != nil && !errors.Is(parent, context.DeadlineExceeded) {
		return parent
	}
	var typed *sdk.Error
	if errors.As(err, &typed) {
		return typed
	}
	addr := s.cfg.addr()
	var te *textproto.Error
	if errors.As(err, &te) {
		switch {
		case te.Code >= 500:
			return sdk.PermanentError("%s: the SMTP server %s refused: %s: %s", ss.stage, addr, reply(te), remedy(ss.stage, te))
		case te.Code >= 400:
			return sdk.RetryableError(0, "%s: the SMTP server %s answered %s; retrying later", ss.stage, addr, reply(te))
		}
		return sdk.RetryableError(0, "%s: unexpected answer from the SMTP server %s: %s; retrying later", ss.stage, addr, reply(te))
	}
	if errors.Is(err, errAuthWithoutTLS) {
		return sdk.PermanentError("AUTH: the connection to %s is not encrypted, so the password is not sent: set tls to starttls or tls", addr)
	}
	if m, fix := certProblem(err); m != "" {
		return sdk.PermanentError("%s: the certificate of %s cannot be trusted (%s): %s", ss.stage, addr, m, fix)
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		return sdk.PermanentError("%s: %s did not answer in TLS: with tls \"tls\" the port must expect implicit TLS (465); for port 587 or 25 set tls to \"starttls\"", ss.stage, addr)
	}
	var ae tls.AlertError
	if errors.As(err, &ae) {
		return sdk.PermanentError("%s: %s refused the TLS handshake (%s): the server and puod.email share no TLS version or cipher (TLS 1.2 or later is required)", ss.stage, addr, ae.Error())
	}
	var ne net.Error
	timedOut := errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) ||
		(ctx.Err() != nil) || !s.now().Before(ss.deadline)
	if timedOut {
		hint := ""
		switch {
		case ss.stage == "greeting" && s.cfg.TLS != tlsImplicit:
			hint = " (a port that expects implicit TLS, like 465, waits silently: then set tls to \"tls\")"
		case ss.stage == "end of message":
			hint = " (the message may have been delivered; a retry carries the same Message-ID)"
		}
		return sdk.RetryableError(0, "%s: the SMTP server %s did not answer in time%s; retrying later", ss.stage, addr, hint)
	}
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		return sdk.RetryableError(0, "connect: cannot resolve %s (%s): check host; retrying later", s.cfg.Host, dnsProblem(dnsErr))
	case errors.Is(err, syscall.ECONNREFUSED):
		return sdk.RetryableError(0, "connect: %s refused the connection: check host and port, or whether the server is running; retrying later", addr)
	case ss.stage == "end of message":
		return sdk.RetryableError(0, "%s: lost the connection to %s before its answer (the message may have been delivered; a retry carries the same Message-ID): %s", ss.stage, addr, netProblem(err))
	}
	return sdk.RetryableError(0, "%s: lost the connection to the SMTP server %s: %s; retrying later", ss.stage, addr, netProblem(err))
}

// certProblem says what is wrong with the server's certificate and what to
// do about it; "" when err is not about the certificate.
func certProblem(err error) (problem, fix string) {
	const (
		trustCA = "set ca_cert_pem to the CA that signed the server's certificate (a private server), or give the server a certificate from a public CA"
		renew   = "the server's certificate must be renewed or fixed by its administrator"
	)
	var (
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
		cv *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &ua):
		return "signed by an unknown authority", trustCA
	case errors.As(err, &he):
		return "it is not valid for " + he.Host, "set host to a name the certificate is issued for"
	case errors.As(err, &ci):
		switch ci.Reason {
		case x509.Expired:
			return "expired or not yet valid", renew
		case x509.NotAuthorizedToSign:
			return "signed by a certificate that is not a CA", trustCA
		}
		return "invalid", renew
	case errors.As(err, &cv):
		return "verification failed", trustCA
	}
	return "", ""
}

func dnsProblem(e *net.DNSError) string {
	if e.IsNotFound {
		return "no such host"
	}
	if e.IsTimeout {
		return "DNS timed out"
	}
	return "DNS failed"
}

// netProblem is a network error without addresses repeated.
func netProblem(err error) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the server closed the connection"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server"
	case errors.Is(err, net.ErrClosed):
		return "the connection was closed"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// reply renders a server reply: code and first line, printable, bounded.
func reply(te *textproto.Error) string {
	msg := te.Msg
	if i := strings.IndexAny(msg, "\r\n"); i >= 0 {
		msg = msg[:i]
	}
	msg = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, msg)
	msg = truncate(strings.TrimSpace(msg), 160)
	if msg == "" {
		return fmt.Sprint(te.Code)
	}
	return fmt.Sprintf("%d %s", te.Code, msg)
}

// remedy says what to do about a 5xx reply at a stage.
func remedy(stage string, te *textproto.Error) string {
	code := te.Code
	switch {
	case code == 530 || (stage == "MAIL FROM" && strings.Contains(strings.ToLower(te.Msg), "authenticat")):
		return "the server requires authentication: set username and password"
	case code == 535:
		return "authentication failed: check username and password (some providers need an app password)"
	case code == 534 || code == 538:
		return "the server wants another authentication: an app password, or allowing SMTP authentication for the account"
	case code == 523:
		return "the server requires TLS for this: set tls to starttls or tls"
	case stage == "AUTH":
		return "authentication was refused: check username and password"
	case stage == "MAIL FROM" && (code == 550 || code == 553 || code == 551):
		return "the server does not let this user send as from: set from to an address the account may use"
	case strings.HasPrefix(stage, "RCPT TO") && code == 552:
		return "the recipient's mailbox is full"
	case strings.HasPrefix(stage, "RCPT TO"):
		return "check the address in to"
	case code == 552:
		return "the message is too large for the server"
	case code == 554 || code == 550:
		return "the server rejected the message (a policy or spam filter): ask its administrator"
	case code == 500 || code == 501 || code == 502 || code == 503 || code == 504:
		return "the server did not accept the command: an incompatible server, or a bug in puod.email, please report it"
	case code == 521 || code == 556:
		return "the server does not accept mail"
	}
	return "see the server's reply"
}

// redact removes the password from a text, in case a server echoed it.
func (s *sink) redact(err error) error {
	if s.cfg.Password == "" || len(s.cfg.Password) < 4 || !strings.Contains(err.Error(), s.cfg.Password) {
		return err
	}
	var e *sdk.Error
	if errors.As(err, &e) {
		c := *e
		c.Message = strings.ReplaceAll(c.Message, s.cfg.Password, "[redacted]")
		c.Err = nil
		return &c
	}
	return errors.New(strings.ReplaceAll(err.Error(), s.cfg.Password, "[redacted]"))
}

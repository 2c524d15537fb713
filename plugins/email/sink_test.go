package main

import (
	"context"
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

func TestEmail_conformance(t *testing.T) {
	ms := startServer(t, serverOptions{Users: map[string]string{testUser: testPassword}})
	e := newEnv(t)
	secrets := map[string]string{"password": testPassword}
	cfg := func(extra string) json.RawMessage {
		var m map[string]any
		_ = json.Unmarshal(ms.config(nil), &m)
		var over map[string]any
		_ = json.Unmarshal([]byte(extra), &over)
		for k, v := range over {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		b, _ := json.Marshal(m)
		return b
	}
	plugintest.RunAlertSinkSuite(t, plugintest.AlertSinkSuite[Config]{
		Plugin:        e.plugin(),
		BundleDir:     ".",
		ValidConfig:   ms.config(nil),
		Secrets:       secrets,
		Notifications: plugintest.SampleNotifications(), // firing, resolved and a group
		InvalidConfigs: []plugintest.InvalidConfig{
			{Name: "no recipients", Config: cfg(`{"to": []}`), Field: "/to"},
			{Name: "bad recipient", Config: cfg(`{"to": ["ops@example.com", "not an address"]}`), Field: "/to/1"},
			{Name: "repeated recipient", Config: cfg(`{"to": ["ops@example.com", "Ops <OPS@example.com>"]}`), Field: "/to/1"},
			{Name: "bad sender", Config: cfg(`{"from": "alerts at example"}`), Field: "/from"},
			{Name: "url as host", Config: cfg(`{"host": "smtp://mail.example.com"}`), Field: "/host"},
			{Name: "port in host", Config: cfg(`{"host": "mail.example.com:587"}`), Field: "/host"},
			{Name: "unknown tls mode", Config: cfg(`{"tls": "ssl"}`), Field: "/tls"},
			{Name: "credentials without tls", Config: cfg(`{"tls": "none", "ca_cert_pem": null}`), Field: "/username"},
			{Name: "password without username", Config: cfg(`{"username": null}`), Field: "/username"},
			{Name: "username without password", Config: cfg(`{}`), Secrets: map[string]string{}, Field: "/password"},
			{Name: "ca is not pem", Config: cfg(`{"ca_cert_pem": "MIIB...not pem"}`), Field: "/ca_cert_pem"},
			{Name: "ca is a key", Config: cfg(`{"ca_cert_pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}`), Field: "/ca_cert_pem"},
			{Name: "bad helo name", Config: cfg(`{"helo_name": "not a host"}`), Field: "/helo_name"},
			{Name: "multi-line subject prefix", Config: cfg(`{"subject_prefix": "a\nBcc: x@example.org"}`), Field: "/subject_prefix"},
		},
	})
	if got := len(ms.messages()); got != 3 {
		t.Errorf("the server received %d messages, want 3 (the two samples and the group, each once: a retry of a delivered notification sends nothing)", got)
	}
}

// TestEmail_delivers sends the reference alert over STARTTLS with
// authentication and reads what the server received.
func TestEmail_delivers(t *testing.T) {
	for _, mech := range []string{sasl.Plain, sasl.Login} {
		t.Run(mech, func(t *testing.T) {
			ms := startServer(t, serverOptions{Users: map[string]string{testUser: testPassword}, Mechs: []string{mech}})
			e := newEnv(t)
			id := e.configure(t, ms.config(map[string]any{"subject_prefix": "[PUOD prod]"}), map[string]string{"password": testPassword})
			if res := e.notify(t, id, firing()); res.Outcome != sdk.Delivered {
				t.Fatalf("outcome %s (%s)", res.Outcome, res.Reason)
			}
			msgs := ms.messages()
			if len(msgs) != 1 {
				t.Fatalf("server received %d messages", len(msgs))
			}
			m := msgs[0]
			if !m.TLS || m.User != testUser || m.From != "alerts@example.com" || !slices.Equal(m.To, []string{"ops@example.com", "dados@example.com"}) {
				t.Errorf("envelope: tls %v user %q from %q to %v", m.TLS, m.User, m.From, m.To)
			}
			p := parseMessage(t, m.Data)
			if p.Subject != "[PUOD prod] [FIRING] critical · ETL_Vendas took 7m12s" {
				t.Errorf("subject %q", p.Subject)
			}
			if p.Header.Get("Message-Id") != "<puod.ntf_01@example.com>" {
				t.Errorf("Message-ID %q", p.Header.Get("Message-Id"))
			}
			for _, body := range []string{p.Text, p.HTML} {
				wantAll(t, "body", body, "ETL_Vendas", "1102044718239904", "7m12s (threshold 5m)", "2026-11-17 03:32:49 UTC",
					"http://127.0.0.1:8080/runs/src_databricks_prod/1102044718239904",
					"https://dbc-a1b2c3d4-e5f6.cloud.databricks.com/?o=6051921418418893#job/845213907761204/run/1102044718239904")
			}
		})
	}
}

// TestEmail_messageIDIsStable: two sends of one notification (a plugin
// restart in between: a fresh instance) carry the same Message-ID and the
// same content; within one instance a retry sends nothing.
func TestEmail_messageIDIsStable(t *testing.T) {
	ms := startServer(t, serverOptions{})
	e := newEnv(t)
	first := e.configure(t, ms.config(nil), nil)
	for i := 0; i < 2; i++ {
		if res := e.notify(t, first, resolved()); res.Outcome != sdk.Delivered {
			t.Fatalf("send %d: %+v", i, res)
		}
	}
	if n := len(ms.messages()); n != 1 {
		t.Fatalf("one instance sent %d messages for one notification, want 1", n)
	}
	second := e.configure(t, ms.config(nil), nil)
	if res := e.notify(t, second, resolved()); res.Outcome != sdk.Delivered {
		t.Fatalf("after the restart: %+v", res)
	}
	msgs := ms.messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	a, b := parseMessage(t, msgs[0].Data), parseMessage(t, msgs[1].Data)
	if id := a.Header.Get("Message-Id"); id != "<puod.ntf_02@example.com>" || id != b.Header.Get("Message-Id") {
		t.Errorf("Message-IDs %q and %q, want both <puod.ntf_02@example.com>", id, b.Header.Get("Message-Id"))
	}
	if a.Text != b.Text || a.HTML != b.HTML || a.Subject != b.Subject {
		t.Error("the two sends differ in content")
	}
	other := resolved()
	other.ID = "ntf_03"
	if res := e.notify(t, second, other); res.Outcome != sdk.Delivered {
		t.Fatal(res)
	}
	if c := parseMessage(t, ms.messages()[2].Data); c.Header.Get("Message-Id") == a.Header.Get("Message-Id") {
		t.Error("another notification got the same Message-ID")
	}
}

func TestEmail_group(t *testing.T) {
	ms := startServer(t, serverOptions{})
	e := newEnv(t)
	id := e.configure(t, ms.config(nil), nil)
	if res := e.notify(t, id, group()); res.Outcome != sdk.Delivered {
		t.Fatalf("%+v", res)
	}
	msgs := ms.messages()
	if len(msgs) != 1 {
		t.Fatalf("a group notification made %d messages, want 1", len(msgs))
	}
	p := parseMessage(t, msgs[0].Data)
	for _, a := range group().Alerts {
		for _, body := range []string{p.Text, p.HTML} {
			wantAll(t, "body", body, a.Title[:len("ETL_Xxxxxxx took")], a.PipelineName, a.RunExternalID, a.Value)
		}
	}
}

// TestEmail_answers drives the sink through what a server (or the
// network) can answer and checks the outcome the host sees.
func TestEmail_answers(t *testing.T) {
	e := newEnv(t)
	users := map[string]string{testUser: testPassword}
	smtpErr := func(code int, enh smtp.EnhancedCode, msg string) *smtp.SMTPError {
		return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
	}
	type setup struct {
		server  serverOptions
		fault   *fault
		cfg     map[string]any // config overrides
		secrets map[string]string
		addr    func(t *testing.T) int // a port that replaces the server's
	}
	cases := []struct {
		name    string
		setup   setup
		outcome sdk.NotifyOutcome
		reason  []string // the reason contains each
	}{
		{name: "starttls ok", outcome: sdk.Delivered},
		{name: "implicit tls ok", setup: setup{server: serverOptions{TLS: tlsImplicit}}, outcome: sdk.Delivered},
		{name: "no tls to a local server", setup: setup{server: serverOptions{TLS: tlsNone}}, outcome: sdk.Delivered},
		{name: "auth ok", setup: setup{server: serverOptions{Users: users}, secrets: map[string]string{"password": testPassword}}, outcome: sdk.Delivered},

		{name: "MAIL 451", setup: setup{fault: &fault{Stage: "mail", Err: smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "try again later")}},
			outcome: sdk.Retryable, reason: []string{"MAIL FROM", "451 4.3.0 try again later", "retrying later"}},
		{name: "MAIL 421", setup: setup{fault: &fault{Stage: "mail", Err: smtpErr(421, smtp.EnhancedCode{4, 7, 0}, "too busy")}},
			outcome: sdk.Retryable, reason: []string{"421"}},
		{name: "MAIL 553 sender not allowed", setup: setup{fault: &fault{Stage: "mail", Err: smtpErr(553, smtp.EnhancedCode{5, 7, 1}, "sender address rejected")}},
			outcome: sdk.Permanent, reason: []string{"553 5.7.1 sender address rejected", "set from to an address the account may use"}},
		{name: "MAIL 530 auth required", setup: setup{server: serverOptions{Users: users}, cfg: map[string]any{"username": nil}},
			outcome: sdk.Permanent, reason: []string{"530", "set username and password"}},
		{name: "every RCPT 550", setup: setup{fault: &fault{Stage: "rcpt", Err: smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "mailbox unavailable")}},
			outcome: sdk.Permanent, reason: []string{"refused every recipient", "<ops@example.com> (550 5.1.1 mailbox unavailable)", "<dados@example.com>"}},
		{name: "every RCPT 452", setup: setup{fault: &fault{Stage: "rcpt", Err: smtpErr(452, smtp.EnhancedCode{4, 2, 2}, "mailbox full")}},
			outcome: sdk.Retryable, reason: []string{"no recipient took the message", "452"}},
		{name: "DATA 554", setup: setup{fault: &fault{Stage: "data", Err: smtpErr(554, smtp.EnhancedCode{5, 7, 1}, "message rejected as spam")}},
			outcome: sdk.Permanent, reason: []string{"554 5.7.1 message rejected as spam", "policy or spam filter"}},
		{name: "DATA 552", setup: setup{fault: &fault{Stage: "data", Err: smtpErr(552, smtp.EnhancedCode{5, 3, 4}, "message too big")}},
			outcome: sdk.Permanent, reason: []string{"552", "too large"}},
		{name: "DATA 451", setup: setup{fault: &fault{Stage: "data", Err: smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "local error")}},
			outcome: sdk.Retryable, reason: []string{"451"}},

		{name: "server without STARTTLS", setup: setup{server: serverOptions{TLS: tlsNone}, cfg: map[string]any{"tls": tlsStartTLS}},
			outcome: sdk.Permanent, reason: []string{"does not offer STARTTLS", "Fix the tls setting"}},
		{name: "wrong password", setup: setup{server: serverOptions{Users: users}, secrets: map[string]string{"password": wrongPass}},
			outcome: sdk.Permanent, reason: []string{"AUTH", "535", "check username and password"}},
		{name: "unknown user", setup: setup{server: serverOptions{Users: users}, cfg: map[string]any{"username": "nobody@example.com"}, secrets: map[string]string{"password": testPassword}},
			outcome: sdk.Permanent, reason: []string{"535"}},
		{name: "credentials but the server offers no AUTH", setup: setup{cfg: map[string]any{"username": testUser}, secrets: map[string]string{"password": testPassword}},
			outcome: sdk.Permanent, reason: []string{"offers no authentication"}},
		{name: "only an unsupported mechanism", setup: setup{server: serverOptions{Users: users, Mechs: []string{"CRAM-MD5"}}, secrets: map[string]string{"password": testPassword}},
			outcome: sdk.Permanent, reason: []string{"CRAM-MD5", "PLAIN and LOGIN"}},
		{name: "untrusted certificate", setup: setup{cfg: map[string]any{"ca_cert_pem": nil}},
			outcome: sdk.Permanent, reason: []string{"cannot be trusted", "unknown authority", "ca_cert_pem"}},
		{name: "certificate for another name", setup: setup{server: serverOptions{Listen: "127.0.0.2:0"}},
			outcome: sdk.Permanent, reason: []string{"cannot be trusted", "not valid for 127.0.0.2"}},
		{name: "implicit tls against a starttls port", setup: setup{cfg: map[string]any{"tls": tlsImplicit}},
			outcome: sdk.Permanent, reason: []string{"did not answer in TLS"}},

		{name: "connection refused", setup: setup{addr: func(t *testing.T) int {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := l.Addr().(*net.TCPAddr).Port
			l.Close()
			return port
		}}, outcome: sdk.Retryable, reason: []string{"refused the connection"}},
		{name: "no greeting", setup: setup{cfg: map[string]any{"timeout_seconds": 1}, addr: func(t *testing.T) int {
			return silentServer(t)
		}}, outcome: sdk.Retryable, reason: []string{"greeting", "did not answer in time", "set tls to \"tls\""}},
		{name: "hangs after the message", setup: setup{fault: &fault{Stage: "data", Hang: true}, cfg: map[string]any{"timeout_seconds": 1}},
			outcome: sdk.Retryable, reason: []string{"end of message", "did not answer in time", "may have been delivered"}},
		{name: "hangs at RCPT", setup: setup{fault: &fault{Stage: "rcpt", Hang: true}, cfg: map[string]any{"timeout_seconds": 1}},
			outcome: sdk.Retryable, reason: []string{"RCPT TO <ops@example.com>", "did not answer in time"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ms := startServer(t, tc.setup.server)
			cfg := map[string]any{}
			for k, v := range tc.setup.cfg {
				cfg[k] = v
			}
			if tc.setup.addr != nil {
				cfg["port"] = tc.setup.addr(t)
			}
			id := e.configure(t, ms.config(cfg), tc.setup.secrets)
			if tc.setup.fault != nil {
				ms.inject(*tc.setup.fault)
			}
			res := e.notify(t, id, firing())
			if res.Outcome != tc.outcome {
				t.Fatalf("outcome %s (%s), want %s", res.Outcome, res.Reason, tc.outcome)
			}
			for _, want := range tc.reason {
				if !strings.Contains(res.Reason, want) {
					t.Errorf("reason %q does not contain %q", res.Reason, want)
				}
			}
			for _, secret := range []string{testPassword, wrongPass} {
				if strings.Contains(res.Reason, secret) {
					t.Errorf("the reason holds a password: %q", res.Reason)
				}
			}
			got := len(ms.messages())
			if tc.outcome == sdk.Delivered && got != 1 {
				t.Errorf("server received %d messages, want 1", got)
			}
			if tc.outcome != sdk.Delivered && got != 0 {
				t.Errorf("server received %d messages for a refused notification", got)
			}
		})
	}
}

// silentServer accepts connections and never says a word, as a port that
// expects implicit TLS does to a client waiting for a greeting.
func silentServer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	t.Cleanup(func() { close(done); l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// TestEmail_partialRecipients: a recipient refused for good is skipped
// and the others get the message (delivered); a recipient deferred makes
// the answer retryable, and the retry goes only to it.
func TestEmail_partialRecipients(t *testing.T) {
	ms := startServer(t, serverOptions{})
	e := newEnv(t)
	to := []string{"ops@example.com", "gone@example.com", "busy@example.com"}
	id := e.configure(t, ms.config(map[string]any{"to": to}), nil)
	ms.inject(fault{Stage: "rcpt", Rcpt: "gone@example.com", Err: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}})
	ms.inject(fault{Stage: "rcpt", Rcpt: "busy@example.com", Err: &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full, try later"}})

	res := e.notify(t, id, firing())
	if res.Outcome != sdk.Retryable || !strings.Contains(res.Reason, "delivered to 1 of 3") || !strings.Contains(res.Reason, "<busy@example.com> (452 4.2.2 mailbox full, try later)") {
		t.Fatalf("first attempt: %+v, want retryable for the deferred recipient", res)
	}
	if msgs := ms.messages(); len(msgs) != 1 || !slices.Equal(msgs[0].To, []string{"ops@example.com"}) {
		t.Fatalf("first attempt delivered %+v, want one message to ops@", msgs)
	}
	if !strings.Contains(e.logs.String(), "gone@example.com") || !strings.Contains(e.logs.String(), "550 5.1.1 no such user") {
		t.Errorf("the refused recipient is not logged:\n%s", e.logs.String())
	}

	ms.clearFaults()
	ms.inject(fault{Stage: "rcpt", Rcpt: "gone@example.com", Err: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}})
	if res := e.notify(t, id, firing()); res.Outcome != sdk.Delivered {
		t.Fatalf("retry: %+v, want delivered", res)
	}
	msgs := ms.messages()
	if len(msgs) != 2 || !slices.Equal(msgs[1].To, []string{"busy@example.com"}) {
		t.Fatalf("the retry went to %v, want only busy@ (ops@ has it, gone@ refused it)", msgs[len(msgs)-1].To)
	}
	// Both copies are one message: same Message-ID, same To header.
	a, b := parseMessage(t, msgs[0].Data), parseMessage(t, msgs[1].Data)
	if a.Header.Get("Message-Id") != b.Header.Get("Message-Id") || a.Header.Get("To") != b.Header.Get("To") {
		t.Errorf("the copies differ: %q/%q, %q/%q", a.Header.Get("Message-Id"), b.Header.Get("Message-Id"), a.Header.Get("To"), b.Header.Get("To"))
	}

	// One recipient refused, the others fine: delivered in one go.
	ms.clearFaults()
	ms.inject(fault{Stage: "rcpt", Rcpt: "gone@example.com", Err: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}})
	n := firing()
	n.ID = "ntf_partial_2"
	if res := e.notify(t, id, n); res.Outcome != sdk.Delivered {
		t.Fatalf("one refused recipient: %+v, want delivered to the others", res)
	}
	if msgs := ms.messages(); len(msgs) != 3 || !slices.Equal(msgs[2].To, []string{"ops@example.com", "busy@example.com"}) {
		t.Fatalf("delivered to %v", msgs[len(msgs)-1].To)
	}
}

// TestEmail_answersWithinTheCallDeadline: a server slower than the call's
// deadline gets a retryable answer before that deadline, not a deadline
// error from the host's side, even when timeout_seconds is longer.
func TestEmail_answersWithinTheCallDeadline(t *testing.T) {
	ms := startServer(t, serverOptions{})
	e := newEnv(t)
	id := e.configure(t, ms.config(map[string]any{"timeout_seconds": 120}), nil)
	ms.inject(fault{Stage: "data", Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, err := e.client.Notify(ctx, id, firing())
	if err != nil {
		t.Fatalf("Notify failed instead of answering: %v", err)
	}
	if res.Outcome != sdk.Retryable || !strings.Contains(res.Reason, "did not answer in time") {
		t.Fatalf("%+v, want retryable: did not answer in time", res)
	}
	if ctx.Err() != nil {
		t.Error("the answer came after the call's deadline")
	}
}

func TestEmail_health(t *testing.T) {
	e := newEnv(t)
	users := map[string]string{testUser: testPassword}
	for _, tc := range []struct {
		name    string
		server  serverOptions
		cfg     map[string]any
		secrets map[string]string
		status  sdk.HealthStatus
		msg     []string
	}{
		{"starttls", serverOptions{}, nil, nil, sdk.HealthOK, []string{"connected to 127.0.0.1:", "certificate verified", "2 recipient(s) from alerts@example.com"}},
		{"auth", serverOptions{Users: users}, nil, map[string]string{"password": testPassword}, sdk.HealthOK, []string{"authenticated as alerts@example.com (PLAIN)"}},
		{"implicit tls", serverOptions{TLS: tlsImplicit}, nil, nil, sdk.HealthOK, []string{"certificate verified"}},
		{"no tls", serverOptions{TLS: tlsNone}, nil, nil, sdk.HealthOK, []string{"without TLS"}},
		{"wrong password", serverOptions{Users: users}, nil, map[string]string{"password": wrongPass}, sdk.HealthError, []string{"535"}},
		{"no starttls", serverOptions{TLS: tlsNone}, map[string]any{"tls": tlsStartTLS}, nil, sdk.HealthError, []string{"STARTTLS"}},
		{"untrusted", serverOptions{}, map[string]any{"ca_cert_pem": nil}, nil, sdk.HealthError, []string{"cannot be trusted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := startServer(t, tc.server)
			id := e.configure(t, ms.config(tc.cfg), tc.secrets)
			h, err := e.client.CheckHealth(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if h.Status != tc.status {
				t.Errorf("health %s (%s), want %s", h.Status, h.Message, tc.status)
			}
			for _, want := range tc.msg {
				if !strings.Contains(h.Message, want) {
					t.Errorf("health message %q does not contain %q", h.Message, want)
				}
			}
			if strings.Contains(h.Message, testPassword) || strings.Contains(h.Message, wrongPass) {
				t.Errorf("health message holds a password: %q", h.Message)
			}
			if n := len(ms.messages()); n != 0 {
				t.Errorf("a health check sent %d messages", n)
			}
			if ms.sessionCount() == 0 && tc.status == sdk.HealthOK {
				t.Error("the health check did not talk to the server")
			}
		})
	}
}

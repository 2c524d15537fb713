package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/hashicorp/go-hclog"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

// TestSecrets_neverInErrorsOrLogs drives the sink through every failure
// with distinctive passwords, including a server that quotes the password
// back in its reply, and scans what a person could read: the errors the
// sink returns (in-process, before the SDK's redaction, which would hide a
// leak), the reasons and health messages the host receives, configuration
// problems, and the captured logs.
func TestSecrets_neverInErrorsOrLogs(t *testing.T) {
	users := map[string]string{testUser: testPassword}
	servers := map[string]*mailServer{
		"starttls": startServer(t, serverOptions{Users: users}),
		"echoing":  startServer(t, serverOptions{Users: users, EchoPassword: true}),
		"login":    startServer(t, serverOptions{Users: users, Mechs: []string{"LOGIN"}, EchoPassword: true}),
		"implicit": startServer(t, serverOptions{Users: users, TLS: tlsImplicit}),
		"no tls":   startServer(t, serverOptions{TLS: tlsNone}),
	}
	secrets := map[string]string{"password": testPassword, "wrong password": wrongPass}
	e := newEnv(t)
	tr := &plugintest.Transcript{}
	ctx := context.Background()
	logs := &syncBuffer{}
	log := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Trace, JSONFormat: true})

	faults := []*fault{
		nil,
		{Stage: "mail", Err: &smtp.SMTPError{Code: 451, Message: "later"}},
		{Stage: "mail", Err: &smtp.SMTPError{Code: 553, Message: "not yours"}},
		{Stage: "rcpt", Err: &smtp.SMTPError{Code: 550, Message: "unknown"}},
		{Stage: "rcpt", Rcpt: "ops@example.com", Err: &smtp.SMTPError{Code: 452, Message: "full"}},
		{Stage: "data", Err: &smtp.SMTPError{Code: 554, Message: "spam"}},
		{Stage: "data", Hang: true},
	}
	for name, ms := range servers {
		for _, pass := range []string{testPassword, wrongPass} {
			over := map[string]any{"timeout_seconds": 1}
			var sec map[string]string
			if name == "no tls" {
				// Credentials are refused with tls none; the server
				// without STARTTLS is met in starttls mode instead.
				over["tls"], over["ca_cert_pem"] = tlsStartTLS, testCert().pem
				over["username"] = testUser
			}
			sec = map[string]string{"password": pass}
			raw := ms.config(over)
			var cfg Config
			merged := map[string]any{}
			_ = json.Unmarshal(raw, &merged)
			merged["password"] = pass
			b, _ := json.Marshal(merged)
			if err := json.Unmarshal(b, &cfg); err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			inst, err := deps{}.newSink(ctx, cfg, sdk.Env{InstanceID: name, Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			s := inst.(*sink)
			id := e.configure(t, raw, sec)
			for _, f := range faults {
				notes := []sdk.Notification{firing(), resolved(), group()}
				if f != nil && f.Hang {
					notes = notes[:1] // each costs the time-out
				}
				for _, n := range notes {
					ms.clearFaults()
					if f != nil {
						ms.inject(*f)
					}
					s.sent = newLedger(ledgerSize) // forget deliveries
					tr.RecordError(name+" Notify (in process)", s.Notify(ctx, n))
					h, herr := s.CheckHealth(ctx)
					tr.RecordError(name+" CheckHealth (in process)", herr)
					tr.Record(name+" health (in process)", h.Message)

					n.ID += "-wire-" + pass[:14]
					res, err := e.client.Notify(ctx, id, n)
					tr.RecordError(name+" Notify", err)
					tr.Record(name+" Notify reason", res.Reason)
				}
			}
			ms.clearFaults()
			h, err := e.client.CheckHealth(ctx, id)
			tr.RecordError(name+" CheckHealth", err)
			tr.Record(name+" health", h.Message)
		}
	}

	// The password in the wrong fields, as a user pasting in a hurry would.
	base := servers["starttls"]
	for _, field := range []string{"host", "from", "subject_prefix", "helo_name", "ca_cert_pem", "username", "tls"} {
		for _, v := range []any{testPassword, "x " + testPassword + "\n"} {
			raw := base.config(map[string]any{field: v})
			fes, err := e.client.ValidateConfig(ctx, raw, map[string]string{"password": testPassword})
			tr.RecordError("ValidateConfig "+field, err)
			for _, fe := range fes {
				tr.Record("field error "+fe.Field, fe.Message)
			}
			err = e.client.Configure(ctx, sdk.InstanceConfig{ID: "bad", Revision: 1, Config: raw, Secrets: map[string]string{"password": testPassword}})
			tr.RecordError("Configure "+field, err)
		}
	}
	raw := base.config(map[string]any{"to": []string{testPassword, "ok@example.com"}})
	fes, err := e.client.ValidateConfig(ctx, raw, map[string]string{"password": testPassword})
	tr.RecordError("ValidateConfig to", err)
	for _, fe := range fes {
		tr.Record("field error "+fe.Field, fe.Message)
	}

	tr.Record("sink log", logs.String())
	tr.Record("plugin log", e.logs.String())
	if len(tr.Entries()) < 200 || !strings.Contains(logs.String(), "the smtp server did not take the notification") ||
		!strings.Contains(logs.String(), "535") {
		t.Fatalf("the test saw too little (%d texts): it checks nothing", len(tr.Entries()))
	}
	plugintest.CheckNoSecrets(t, secrets, tr.Entries())
}

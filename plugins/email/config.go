package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/mail"
	"os"
	"strings"
	"time"

	"github.com/puod/puod/sdk"
)

// Config is one e-mail sink: an SMTP server, a sender and the recipients.
// Its JSON Schema (plugin.json "config") is derived from this struct.
type Config struct {
	// Host is the SMTP server's name. It is also the name its TLS
	// certificate must carry, so an IP address works only with a
	// certificate issued for that address.
	Host string `json:"host" jsonschema:"required,minLength=1,maxLength=253" jsonschema_description:"SMTP server host name, e.g. smtp.example.com (without port or scheme)."`
	// Port defaults by TLS mode: 587 (submission, STARTTLS), 465
	// (submissions, implicit TLS), 25 for tls "none".
	Port int `json:"port,omitempty" jsonschema:"minimum=1,maximum=65535" jsonschema_description:"SMTP port (default 587 with starttls, 465 with tls, 25 with none)."`
	// TLS is how the connection is protected. "starttls" refuses a server
	// that does not offer STARTTLS rather than sending in clear text: a
	// downgrade would expose the password and the alerts. "none" exists for
	// local test servers (MailHog, a relay on localhost) only.
	TLS string `json:"tls,omitempty" jsonschema:"enum=starttls,enum=tls,enum=none,default=starttls" jsonschema_description:"starttls (default): upgrade with STARTTLS and refuse a server that does not offer it; tls: implicit TLS (port 465); none: no encryption, for local test servers only (no credentials allowed)."`
	// CACertPEM replaces the system's trusted roots for this server: the
	// server's certificate must chain to one of these certificates. For a
	// private server with its own CA; certificates are always verified.
	CACertPEM string `json:"ca_cert_pem,omitempty" jsonschema:"maxLength=65536" jsonschema_description:"PEM certificate(s) of the CA that signed the server's certificate, for private servers. When set, only these CAs are trusted for this server."`
	// Username and Password authenticate with AUTH PLAIN or LOGIN, only
	// over TLS.
	Username string `json:"username,omitempty" jsonschema:"maxLength=320" jsonschema_description:"SMTP user name (AUTH PLAIN or LOGIN, only over TLS). Leave empty for a relay that needs none."`
	Password string `json:"password,omitempty" secret:"true" jsonschema:"maxLength=4096" jsonschema_description:"SMTP password (or app password) of the user."`
	// From is the sender, as an address or "Name <address>". Its domain
	// also names the Message-ID.
	From string `json:"from" jsonschema:"required,minLength=3,maxLength=320" jsonschema_description:"Sender, e.g. alerts@example.com or PUOD <alerts@example.com>. The server must allow the user to send as this address."`
	// To are the recipients; each gets the same message.
	To []string `json:"to" jsonschema:"required,minItems=1,maxItems=100" jsonschema_description:"Recipients (addresses or Name <address>); all receive the same message."`
	// SubjectPrefix goes before "[FIRING] …" so mail rules can sort alerts
	// per environment.
	SubjectPrefix string `json:"subject_prefix,omitempty" jsonschema:"maxLength=100" jsonschema_description:"Text put before every subject, e.g. [PUOD prod]."`
	// HeloName is how the sink introduces itself (EHLO). Some servers
	// refuse "localhost"; the default is the machine's host name.
	HeloName string `json:"helo_name,omitempty" jsonschema:"maxLength=253" jsonschema_description:"Name sent with EHLO (default: this machine's host name)."`
	// TimeoutSeconds bounds one delivery, from connecting to the server's
	// answer to the message. A message that times out after it was sent
	// may have been delivered: it is retried, which is the one window for a
	// repeat (with the same Message-ID, which receivers can de-duplicate).
	TimeoutSeconds int `json:"timeout_seconds,omitempty" jsonschema:"minimum=1,maximum=300,default=20" jsonschema_description:"Seconds one delivery may take before it is retried later (default 20)."`
}

// TLS modes.
const (
	tlsStartTLS = "starttls"
	tlsImplicit = "tls"
	tlsNone     = "none"
)

const defaultTimeout = 20

// Validate checks what the schema cannot: the host is a name, the
// addresses parse, credentials only go with TLS, the CA is PEM. Messages
// never repeat a value: a password pasted in the wrong field must not end
// up in an error.
func (c *Config) Validate() error {
	var fe sdk.FieldErrors
	add := func(field, msg string) { fe = append(fe, sdk.FieldError{Field: field, Message: msg}) }

	host := strings.TrimSpace(c.Host)
	switch {
	case host == "":
		add("/host", "is required: the SMTP server's host name, e.g. smtp.example.com")
	case strings.Contains(host, "://"):
		add("/host", "must be a host name, not a URL: drop the scheme (smtp://) and put the port in port")
	case strings.ContainsAny(host, "/@ \t\r\n"):
		add("/host", "must be a host name such as smtp.example.com")
	case strings.Contains(host, ":") && net.ParseIP(strings.Trim(host, "[]")) == nil:
		add("/host", "must not include the port: put it in port")
	}

	mode := c.TLS
	if mode == "" {
		mode = tlsStartTLS
	}
	if strings.TrimSpace(c.Username) != "" && mode == tlsNone {
		add("/username", "credentials are only sent over TLS: set tls to starttls or tls, or remove the username for a local test server")
	}
	if strings.ContainsAny(c.Username, "\x00\r\n") {
		add("/username", "must not contain line breaks or NUL characters")
	}
	switch {
	case c.Password != "" && strings.TrimSpace(c.Username) == "":
		add("/username", "is required with a password: the SMTP user the password belongs to")
	case c.Password == "" && strings.TrimSpace(c.Username) != "":
		add("/password", "is required with a username")
	case strings.ContainsAny(c.Password, "\x00\r\n"):
		add("/password", "must not contain line breaks or NUL characters")
	}

	if strings.TrimSpace(c.CACertPEM) != "" {
		if mode == tlsNone {
			add("/ca_cert_pem", "has no effect with tls none: remove it, or set tls to starttls or tls")
		} else if _, err := certPool(c.CACertPEM); err != nil {
			add("/ca_cert_pem", err.Error())
		}
	}

	if a, ok := parseAddress(c.From); !ok {
		add("/from", "must be an e-mail address, e.g. alerts@example.com or PUOD <alerts@example.com>")
	} else if !isASCII(a.Address) {
		add("/from", "must be an ASCII address: write the domain in its xn-- (punycode) form")
	}
	if len(c.To) == 0 {
		add("/to", "needs at least one recipient")
	}
	seen := map[string]bool{}
	for i, to := range c.To {
		field := fmt.Sprintf("/to/%d", i)
		a, ok := parseAddress(to)
		switch {
		case !ok:
			add(field, "must be an e-mail address, e.g. ops@example.com or Ops <ops@example.com>")
		case !isASCII(a.Address):
			add(field, "must be an ASCII address: write the domain in its xn-- (punycode) form")
		case seen[strings.ToLower(a.Address)]:
			add(field, "repeats an earlier recipient")
		default:
			seen[strings.ToLower(a.Address)] = true
		}
	}

	if strings.ContainsAny(c.SubjectPrefix, "\r\n") {
		add("/subject_prefix", "must be a single line")
	}
	if c.HeloName != "" && !validHostName(c.HeloName) {
		add("/helo_name", "must be a host name such as puod.example.com")
	}
	if len(fe) > 0 {
		return fe
	}
	return nil
}

// parseAddress parses one address, refusing lists and group syntax.
func parseAddress(s string) (*mail.Address, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "\r\n") {
		return nil, false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || !strings.Contains(a.Address, "@") {
		return nil, false
	}
	return a, true
}

// certPool reads the PEM certificates of a private CA.
func certPool(pemText string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	rest := []byte(pemText)
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			// A private key pasted here by mistake: say so without echoing it.
			return nil, fmt.Errorf("holds a PEM %q block: paste only the CA's certificate (BEGIN CERTIFICATE)", b.Type)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d cannot be read: paste the CA certificate as PEM", n+1)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("holds no PEM certificate: paste the CA certificate, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----")
	}
	return pool, nil
}

func validHostName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// withDefaults fills the optional fields.
func (c Config) withDefaults() Config {
	c.Host = strings.Trim(strings.TrimSpace(c.Host), "[]")
	c.Username = strings.TrimSpace(c.Username)
	if c.TLS == "" {
		c.TLS = tlsStartTLS
	}
	if c.Port == 0 {
		switch c.TLS {
		case tlsImplicit:
			c.Port = 465
		case tlsNone:
			c.Port = 25
		default:
			c.Port = 587
		}
	}
	if c.TimeoutSeconds == 0 {
		c.TimeoutSeconds = defaultTimeout
	}
	if c.HeloName == "" {
		c.HeloName = defaultHeloName()
	}
	return c
}

// defaultHeloName is the machine's host name when it is a usable one.
func defaultHeloName() string {
	if h, err := os.Hostname(); err == nil && validHostName(h) {
		return h
	}
	return "localhost"
}

func (c Config) addr() string { return net.JoinHostPort(c.Host, fmt.Sprint(c.Port)) }

func (c Config) timeout() time.Duration { return time.Duration(c.TimeoutSeconds) * time.Second }

// tlsConfig verifies the server's certificate for Host, against the
// configured CA when there is one, else the system's roots.
func (c Config) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}
	if strings.TrimSpace(c.CACertPEM) != "" {
		pool, err := certPool(c.CACertPEM)
		if err != nil {
			return nil, sdk.ConfigError("/ca_cert_pem", "%s", err.Error())
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// sender and recipients are the envelope addresses.
func (c Config) sender() *mail.Address {
	a, _ := parseAddress(c.From)
	return a
}

func (c Config) recipients() []*mail.Address {
	out := make([]*mail.Address, 0, len(c.To))
	for _, to := range c.To {
		if a, ok := parseAddress(to); ok {
			out = append(out, a)
		}
	}
	return out
}

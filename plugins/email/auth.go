package main

import (
	"errors"
	"net/smtp"
	"strings"
)

// errAuthWithoutTLS stops an authentication on a connection that is not
// encrypted. The configuration already refuses credentials with tls
// "none"; this is the guard at the wire.
var errAuthWithoutTLS = errors.New("authentication refused: the connection is not encrypted")

// plainAuth is SASL PLAIN (RFC 4616), only over TLS. net/smtp's PlainAuth
// would do, but it also insists the server name matches its own argument;
// the certificate check already covers that.
type plainAuth struct{ user, pass string }

func (a *plainAuth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	if !si.TLS {
		return "", nil, errAuthWithoutTLS
	}
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a *plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("AUTH PLAIN: the server asked for more after the credentials")
	}
	return nil, nil
}

// loginAuth is the LOGIN mechanism (draft-murchison-sasl-login): the
// server asks for the user name, then the password, only over TLS.
type loginAuth struct {
	user, pass string
	step       int
}

func (a *loginAuth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	if !si.TLS {
		return "", nil, errAuthWithoutTLS
	}
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(challenge []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	prompt := strings.ToLower(string(challenge))
	switch {
	case strings.Contains(prompt, "user"):
		return []byte(a.user), nil
	case strings.Contains(prompt, "pass"):
		return []byte(a.pass), nil
	case a.step == 1:
		return []byte(a.user), nil
	case a.step == 2:
		return []byte(a.pass), nil
	}
	return nil, errors.New("AUTH LOGIN: the server asked for more than a user name and a password")
}

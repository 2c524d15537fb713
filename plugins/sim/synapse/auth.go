package synapsesim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// handleToken is the Entra ID v2.0 token endpoint, client-credentials
// grant only. It returns the token issued ("" when refused).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, body []byte) string {
	if r.Method != http.MethodPost {
		s.aadError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a "+r.Method+" request.")
		return ""
	}
	tenant := strings.TrimSuffix(strings.Trim(r.URL.Path, "/"), "/oauth2/v2.0/token")
	if !strings.EqualFold(tenant, s.opts.TenantID) {
		s.aadError(w, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return ""
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		s.aadError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return ""
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		s.aadError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return ""
	}
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	// Entra ID also takes the client credentials as HTTP Basic.
	if u, p, ok := r.BasicAuth(); ok && clientID == "" {
		clientID, _ = url.QueryUnescape(u)
		secret, _ = url.QueryUnescape(p)
	}
	switch {
	case form.Get("grant_type") == "":
		s.aadError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
	case form.Get("grant_type") != "client_credentials":
		s.aadError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+form.Get("grant_type")+"'.")
	case clientID == "":
		s.aadError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
	case !strings.EqualFold(clientID, s.opts.ClientID):
		s.aadError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, s.opts.TenantID))
	case secret == "":
		s.aadError(w, http.StatusUnauthorized, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
	case secret != s.opts.ClientSecret:
		s.aadError(w, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", s.opts.ClientID))
	case form.Get("scope") == "":
		s.aadError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
	case form.Get("scope") != Scope:
		s.aadError(w, http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", form.Get("scope")))
	default:
		s.mu.Lock()
		b, tok, fromFixture := s.fixtureToken()
		if !fromFixture {
			tok = s.issueLocked()
		}
		s.mu.Unlock()
		if fromFixture {
			writeBytes(w, http.StatusOK, b)
			return tok
		}
		secs := int(s.opts.TokenTTL / time.Second)
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
		return tok
	}
	return ""
}

// aadError answers Entra ID's error shape.
func (s *Server) aadError(w http.ResponseWriter, status int, code string, aadsts int, description string) {
	trace, corr := s.newID(), s.newID()
	now := s.Now()
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", aadsts, description, trace, corr, now.Format("2006-01-02 15:04:05Z")),
		"error_codes":       []int{aadsts},
		"timestamp":         now.Format("2006-01-02 15:04:05Z"),
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", aadsts),
	})
}

// issueLocked mints a JWT-shaped access token (not signed: nobody but the
// simulator checks it) and remembers its expiry. Call with s.mu held.
func (s *Server) issueLocked() string {
	now := s.Now()
	exp := now.Add(s.opts.TokenTTL)
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"typ": "JWT", "alg": "RS256", "x5t": "c2ltdWxhdG9y", "kid": "c2ltdWxhdG9y"})
	claims, _ := json.Marshal(map[string]any{
		"aud": "https://dev.azuresynapse.net", "iss": "https://sts.windows.net/" + s.opts.TenantID + "/",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": exp.Unix(),
		"appid": s.opts.ClientID, "appidacr": "1", "idp": "https://sts.windows.net/" + s.opts.TenantID + "/",
		"oid": newGUID(s.rng), "sub": newGUID(s.rng), "tid": s.opts.TenantID, "uti": hexID(s.rng, 22), "ver": "1.0",
	})
	sig := enc.EncodeToString([]byte("synapsesim-signature-" + hexID(s.rng, 24)))
	tok := enc.EncodeToString(header) + "." + enc.EncodeToString(claims) + "." + sig
	s.tokens[tok] = exp
	return tok
}

// checkBearer checks the Authorization header like the data plane: a
// token this simulator issued, not expired. It answers 401 itself.
func (s *Server) checkBearer(w http.ResponseWriter, r *http.Request, now time.Time) (string, bool) {
	h := r.Header.Get("Authorization")
	tok, found := strings.CutPrefix(h, "Bearer ")
	if !found {
		tok, found = strings.CutPrefix(h, "bearer ")
	}
	challenge := fmt.Sprintf(`Bearer authorization_uri="https://login.microsoftonline.com/%s", error="invalid_token"`, s.opts.TenantID)
	if !found || strings.TrimSpace(tok) == "" {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization_uri="https://login.microsoftonline.com/%s"`, s.opts.TenantID))
		writeError(w, http.StatusUnauthorized, "Unauthorized", "The request is missing the Authorization header with a bearer token.", "")
		return "", false
	}
	s.mu.Lock()
	exp, known := s.tokens[tok]
	s.mu.Unlock()
	switch {
	case !known:
		w.Header().Set("WWW-Authenticate", challenge+`, error_description="The token signature is invalid"`)
		writeError(w, http.StatusUnauthorized, "Unauthorized", "Token Authentication failed - IDX10511: Signature validation failed.", "")
		return tok, false
	case !now.Before(exp):
		w.Header().Set("WWW-Authenticate", challenge+`, error_description="The access token has expired"`)
		writeError(w, http.StatusUnauthorized, "Unauthorized", "Token Authentication failed - IDX10223: Lifetime validation failed. The token is expired.", "")
		return tok, false
	}
	return tok, true
}

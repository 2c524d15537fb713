package httpx

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/puod/puod/sdk"
)

// Bearer authorizes with a fixed token (a personal access token).
type Bearer string

func (b Bearer) Authorize(_ context.Context, r *http.Request) error {
	r.Header.Set("Authorization", "Bearer "+string(b))
	return nil
}
func (Bearer) Invalidate() {}

// Basic authorizes with a user name and password.
type Basic struct{ User, Password string }

func (b Basic) Authorize(_ context.Context, r *http.Request) error {
	r.SetBasicAuth(b.User, b.Password)
	return nil
}
func (Basic) Invalidate() {}

// TokenFetcher obtains a new access token and its lifetime.
type TokenFetcher func(ctx context.Context) (token string, expiresIn time.Duration, err error)

// CachedToken caches a fetched bearer token and fetches a new one shortly
// before it expires (or after Invalidate). Safe for concurrent use.
type CachedToken struct {
	Fetch TokenFetcher
	// Skew is how long before expiry a token is renewed (default 60 s).
	Skew time.Duration
	// Now is the clock (tests inject one).
	Now func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

func (c *CachedToken) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Token returns a valid token, fetching one when needed.
func (c *CachedToken) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	skew := c.Skew
	if skew == 0 {
		skew = 60 * time.Second
	}
	if c.token != "" && c.now().Add(skew).Before(c.expires) {
		return c.token, nil
	}
	tok, ttl, err := c.Fetch(ctx)
	if err != nil {
		return "", err
	}
	if ttl <= 0 {
		ttl = time.Hour
	}
	c.token, c.expires = tok, c.now().Add(ttl)
	return tok, nil
}

func (c *CachedToken) Authorize(ctx context.Context, r *http.Request) error {
	tok, err := c.Token(ctx)
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

func (c *CachedToken) Invalidate() {
	c.mu.Lock()
	c.token = ""
	c.mu.Unlock()
}

// ClientCredentials is the OAuth 2.0 client-credentials grant, as used by
// Databricks machine-to-machine OAuth (/oidc/v1/token, credentials in a
// Basic header) and Microsoft Entra ID (credentials in the form).
type ClientCredentials struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scope        string
	// InForm sends the client id and secret as form fields instead of a
	// Basic header (Entra ID).
	InForm bool
	HTTP   *http.Client
}

// Fetcher returns a TokenFetcher for use with CachedToken.
func (cc ClientCredentials) Fetcher() TokenFetcher {
	return func(ctx context.Context) (string, time.Duration, error) {
		form := url.Values{"grant_type": {"client_credentials"}}
		if cc.Scope != "" {
			form.Set("scope", cc.Scope)
		}
		if cc.InForm {
			form.Set("client_id", cc.ClientID)
			form.Set("client_secret", cc.ClientSecret)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cc.TokenURL, strings.NewReader(form.Encode()))
		if err != nil {
			return "", 0, sdk.ConfigError("", "invalid token URL: %v", err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		if !cc.InForm {
			req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(cc.ClientID)+":"+url.QueryEscape(cc.ClientSecret))))
		}
		hc := cc.HTTP
		if hc == nil {
			hc = &http.Client{Timeout: 30 * time.Second}
		}
		resp, err := hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return "", 0, ctx.Err()
			}
			return "", 0, sdk.RetryableError(0, "token endpoint: %s", transportMessage(err))
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		switch {
		case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return "", 0, sdk.AuthError("token endpoint refused the client credentials (%d): %s; check the client id and secret", resp.StatusCode, oauthMessage(body))
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			return "", 0, sdk.RetryableError(RetryAfter(resp.Header, time.Now()), "token endpoint answered %d", resp.StatusCode)
		case resp.StatusCode >= 300:
			return "", 0, sdk.DownstreamError(nil, "token endpoint answered %d: %s", resp.StatusCode, oauthMessage(body))
		}
		var tok struct {
			AccessToken string          `json:"access_token"`
			ExpiresIn   json.RawMessage `json:"expires_in"`
		}
		if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
			return "", 0, sdk.DownstreamError(nil, "token endpoint returned no access_token")
		}
		var secs int64
		// Entra ID has sent expires_in both as a number and as a string.
		s := strings.Trim(string(tok.ExpiresIn), `"`)
		if _, err := fmt.Sscan(s, &secs); err != nil {
			secs = 3600
		}
		return tok.AccessToken, time.Duration(secs) * time.Second, nil
	}
}

func oauthMessage(body []byte) string {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		if e.Description != "" {
			return e.Error + ": " + e.Description
		}
		return e.Error
	}
	return DefaultErrorMessage(body)
}

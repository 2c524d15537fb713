package collect

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/audit"
	"github.com/puod/puod/host/store"
	"github.com/puod/puod/sdk"
)

// Webhook authentication. Each source can have one webhook secret, created
// by an admin (POST /api/v1/sources/{id}/webhook-secret) and shown once. It
// is sealed with the host keyring, not hashed, because an HMAC signature
// can only be checked with the secret itself. A request must carry one of:
//
//	Authorization: Bearer <secret>
//	Authorization: Basic <base64(any-user:<secret>)>   (Databricks HTTP destinations)
//	X-PUOD-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>
//
// Anything else — no secret set, a wrong one, an unknown source — is the
// same 401, and nothing reaches the plugin or the store.

// SignatureHeader carries the HMAC of a webhook body.
const SignatureHeader = "X-PUOD-Signature"

// webhookSecretPrefix marks PUOD webhook secrets, so a leaked one is
// recognisable (secret scanners, logs).
const webhookSecretPrefix = "puodwh_"

// webhookAAD binds a sealed secret to its source.
func webhookAAD(profileID, sourceID string) []byte {
	return []byte("puod/webhook-secret/v1\x00" + profileID + "\x00" + sourceID)
}

// WebhookSecret is the answer of POST /api/v1/sources/{id}/webhook-secret.
type WebhookSecret struct {
	SourceID string `json:"source_id"`
	// Secret is shown this once; PUOD keeps it sealed.
	Secret string `json:"secret"`
	// Path is where the vendor posts notifications.
	Path string `json:"path"`
}

// CreateWebhookSecret generates a new webhook secret for a source of the
// caller's profile, replacing any previous one, and returns it.
func (c *Collector) CreateWebhookSecret(ctx context.Context, sourceID string) (WebhookSecret, error) {
	if c.keys == nil {
		return WebhookSecret{}, errors.New("webhook secrets: the collector has no keyring")
	}
	src, err := c.sourceOf(ctx, sourceID)
	if err != nil {
		return WebhookSecret{}, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return WebhookSecret{}, fmt.Errorf("generate webhook secret: %w", err)
	}
	secret := webhookSecretPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	sealed, keyID, err := c.keys.Encrypt([]byte(secret), webhookAAD(src.ProfileID, src.ID))
	if err != nil {
		return WebhookSecret{}, fmt.Errorf("seal webhook secret: %w", err)
	}
	if err := c.db.Sources().SetWebhookSecret(ctx, src.ID, sealed, keyID); err != nil {
		return WebhookSecret{}, err
	}
	return WebhookSecret{SourceID: src.ID, Secret: secret, Path: "/api/v1/webhooks/" + src.ID}, nil
}

func (c *Collector) handleWebhookSecret(gc *gin.Context) {
	id := gc.Param("id")
	if c.keys == nil {
		api.Fail(gc, api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "webhooks are not enabled on this host"))
		return
	}
	ws, err := c.CreateWebhookSecret(gc.Request.Context(), id)
	if err != nil {
		api.Fail(gc, err)
		return
	}
	c.record(gc, audit.Event{Action: ActionWebhookSecret, ObjectType: "source", ObjectID: id})
	gc.Header("Cache-Control", "no-store")
	gc.JSON(http.StatusCreated, ws)
}

var errWebhookAuth = api.Errorf(http.StatusUnauthorized, api.CodeUnauthenticated,
	"webhook credentials missing or invalid: send 'Authorization: Bearer <secret>' or '"+SignatureHeader+
		": sha256=<hex HMAC-SHA256 of the body>' with the source's webhook secret (an admin creates one with POST /api/v1/sources/{id}/webhook-secret)")

// verifyWebhook checks a request against the sealed secret.
func (c *Collector) verifyWebhook(r *http.Request, body, sealed []byte, keyID, profileID, sourceID string) bool {
	if c.keys == nil || len(sealed) == 0 {
		return false
	}
	secret, err := c.keys.Decrypt(sealed, keyID, webhookAAD(profileID, sourceID))
	if err != nil {
		c.log.Warn("cannot open a source's webhook secret: create a new one", "source", sourceID, "error", err)
		return false
	}
	defer clear(secret)
	if sig := strings.TrimSpace(r.Header.Get(SignatureHeader)); sig != "" {
		hexSig, ok := strings.CutPrefix(sig, "sha256=")
		got, err := hex.DecodeString(hexSig)
		if !ok || err != nil {
			return false
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		return hmac.Equal(mac.Sum(nil), got)
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
	case strings.EqualFold(scheme, "Basic"):
		dec, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return false
		}
		_, cred, _ = strings.Cut(string(dec), ":")
	default:
		return false
	}
	return cred != "" && subtle.ConstantTimeCompare([]byte(cred), secret) == 1
}

// handleWebhook passes an authenticated vendor notification to the source's
// plugin and ingests the runs it returns, like a poll that does not move the
// cursor.
func (c *Collector) handleWebhook(gc *gin.Context) {
	ctx := gc.Request.Context()
	id := gc.Param("source_id")
	body, err := readBody(gc)
	if err != nil {
		api.Fail(gc, err)
		return
	}
	tg, err := store.WebhookTarget{}, store.ErrNotFound
	if storableText(id) {
		// (An id that cannot be stored names no source.)
		tg, err = c.db.System().Sources().WebhookTarget(ctx, id)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		// The store failed: the vendor should retry, not conclude that
		// its credentials are wrong.
		api.Fail(gc, err)
		return
	}
	if err != nil || !c.verifyWebhook(gc.Request, body, tg.SecretEnc, tg.KeyID, tg.ProfileID, tg.SourceID) {
		// An unknown source answers like a wrong secret, so source ids
		// cannot be probed.
		gc.Header("WWW-Authenticate", `Bearer realm="puod-webhook"`)
		api.Fail(gc, errWebhookAuth)
		return
	}
	// The payload is the vendor's and its fields are the plugin's to read,
	// but it is documented as one JSON object: anything else never reaches
	// the plugin. (Checked after the credentials, so an unauthenticated
	// caller learns nothing but 401.)
	if err := webhookPayload(gc, body); err != nil {
		api.Fail(gc, err)
		return
	}
	switch {
	case !tg.Enabled:
		api.Fail(gc, api.Errorf(http.StatusConflict, CodeNotPollable, "source %s is disabled: enable it to accept its webhooks", id))
		return
	case strings.HasPrefix(tg.PluginID, builtinPrefix):
		api.Fail(gc, api.Errorf(http.StatusBadRequest, api.CodeInvalid, "source %s is a built-in push source without webhooks", id))
		return
	}
	pctx := SystemPrincipal(ctx, tg.ProfileID)
	headers := map[string]string{}
	for k, v := range gc.Request.Header {
		k = textproto.CanonicalMIMEHeaderKey(k)
		switch k {
		case "Authorization", SignatureHeader, "Cookie":
			// Credentials stay in the host.
			continue
		}
		if len(v) > 0 {
			headers[k] = v[0]
		}
	}
	wctx, cancel := context.WithTimeout(pctx, c.cfg.WebhookTimeout)
	defer cancel()
	runs, err := c.conns.HandleWebhook(wctx, tg.PluginID, tg.SourceID, sdk.Webhook{Headers: headers, Body: body})
	if err != nil {
		api.Fail(gc, c.webhookPluginError(gc, id, err))
		return
	}
	res, err := c.ingest(pctx, tg.SourceID, runsFromSDK(runs), nil, nil)
	if err != nil {
		api.Fail(gc, err)
		return
	}
	gc.JSON(http.StatusOK, gin.H{"received": res.Received, "changed": len(res.Changed)})
}

// webhookPayload checks a non-empty webhook body: JSON (application/json
// or a structured +json type) holding one object.
func webhookPayload(gc *gin.Context, body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := requireJSONContent(gc, true); err != nil {
		return err
	}
	if err := checkJSONValue(body); err != nil {
		return err
	}
	if k := jsonKindOf(body); k != "an object" {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalid, "the webhook payload must be a JSON object, got %s", k)
	}
	return nil
}

// webhookPluginError maps a plugin's answer to a webhook to what the vendor
// should do: retry later (503) or drop the notification (4xx).
func (c *Collector) webhookPluginError(gc *gin.Context, sourceID string, err error) error {
	var se *sdk.Error
	switch {
	case errors.Is(err, ErrPluginUnavailable):
		gc.Header("Retry-After", "30")
		return api.Errorf(http.StatusServiceUnavailable, CodePluginUnavailable, "the source's plugin is not running; retry later")
	case errors.Is(err, context.DeadlineExceeded):
		return api.Errorf(http.StatusServiceUnavailable, CodePluginError, "the source's plugin did not answer in time; retry later")
	case errors.As(err, &se):
		switch se.Kind {
		case sdk.KindUnimplemented:
			return api.Errorf(http.StatusNotFound, api.CodeNotFound, "the plugin of source %s does not accept webhooks", sourceID)
		case sdk.KindRetryable, sdk.KindDownstream, sdk.KindUnconfigured:
			retryAfterHeader(gc, se.RetryAfter)
			return api.Errorf(http.StatusServiceUnavailable, CodePluginError, "the plugin could not handle the webhook now: %s", se.Message)
		case sdk.KindInternal:
			c.log.Error("plugin failed on a webhook", "source", sourceID, "error", err)
			return api.Errorf(http.StatusBadGateway, CodePluginError, "the plugin failed to handle the webhook")
		}
		return api.Errorf(http.StatusBadRequest, api.CodeInvalid, "the plugin rejected the webhook: %s", se.Message)
	}
	c.log.Error("webhook failed", "source", sourceID, "error", err)
	return api.Errorf(http.StatusBadGateway, CodePluginError, "the plugin failed to handle the webhook")
}

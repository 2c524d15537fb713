package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	synapsesim "github.com/puod/puod/plugins/sim/synapse"
	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

func health(t *testing.T, in *plugintest.Instance) (sdk.Health, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return in.Client.CheckHealth(ctx, in.ID())
}

func TestHealth(t *testing.T) {
	t.Run("connected with client credentials", func(t *testing.T) {
		e := newEnv(t, synapsesim.Options{NoScenario: true}, nil)
		h, err := health(t, e.served(t))
		_, clientID, _ := e.sim.Credentials()
		host := strings.TrimPrefix(e.srv.URL, "http://")
		if err != nil || h.Status != sdk.HealthOK || h.Message != "connected to "+host+" as application "+clientID {
			t.Errorf("health: %+v %v", h, err)
		}
	})
	t.Run("connected with a static token", func(t *testing.T) {
		e := newEnv(t, synapsesim.Options{NoScenario: true}, map[string]any{"tenant_id": nil, "client_id": nil, "token_url": nil})
		e.secrets = map[string]string{"access_token": e.sim.IssueToken()}
		h, err := health(t, e.served(t))
		_, clientID, _ := e.sim.Credentials()
		if err != nil || !strings.HasSuffix(h.Message, " as application "+clientID+" (static access token)") {
			t.Errorf("health: %+v %v", h, err)
		}
	})
	t.Run("secret refused", func(t *testing.T) {
		e := newEnv(t, synapsesim.Options{NoScenario: true}, nil)
		e.secrets = map[string]string{"client_secret": leakSecret}
		_, err := health(t, e.served(t))
		var se *sdk.Error
		if !errors.As(err, &se) || se.Kind != sdk.KindAuth || !strings.Contains(se.Message, "AADSTS7000215") || !strings.Contains(se.Message, "cannot query pipeline runs of 127.0.0.1") {
			t.Errorf("health: %v; want an auth error naming the host and Entra's code", err)
		}
	})
	t.Run("workspace unreachable", func(t *testing.T) {
		e := newEnv(t, synapsesim.Options{NoScenario: true}, nil)
		dead := httptest.NewServer(nil)
		dead.Close()
		e.config = []byte(`{"workspace_url": "` + dead.URL + `", "tenant_id": "t", "client_id": "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "token_url": "` + e.sim.TokenURL(e.srv.URL) + `"}`)
		_, err := health(t, e.served(t))
		var se *sdk.Error
		if !errors.As(err, &se) || !strings.Contains(se.Message, strings.TrimPrefix(dead.URL, "http://")) {
			t.Errorf("health: %v; want an error naming the unreachable host", err)
		}
	})
}

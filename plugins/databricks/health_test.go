package main

import (
	"context"
	"testing"

	"github.com/puod/puod/sdk"
)

func TestCheckHealth_namesHostAndIdentity(t *testing.T) {
	s := newSim(t, simOpts{scenario: true})
	ctx := context.Background()
	for _, c := range []struct {
		oauth bool
		who   string
	}{{false, "as ana.souza@dados.test (personal access token)"}, {true, "as service principal " + testClientID}} {
		in := s.serve(t, c.oauth, nil)
		h, err := in.Client.CheckHealth(ctx, in.ID())
		host := s.srv.URL[len("http://"):]
		if err != nil || h.Status != sdk.HealthOK || h.Message != "connected to "+host+" "+c.who {
			t.Errorf("health: %+v %v", h, err)
		}
	}
	// The workspace is down: a clear, typed error.
	s.srv.Close()
	in := s.serve(t, false, nil)
	if _, err := in.Client.CheckHealth(ctx, in.ID()); err == nil {
		t.Errorf("health of a closed workspace is fine")
	} else {
		t.Logf("closed workspace: %v", err)
	}
}

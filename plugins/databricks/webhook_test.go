package main

import (
	"context"
	"errors"
	"testing"

	"github.com/puod/puod/sdk"
)

func TestWebhook_idsAsNumbersAndErrors(t *testing.T) {
	s := newSim(t, simOpts{at: fixtureNow, fixtures: true})
	in := s.serve(t, false, nil)
	ctx := context.Background()
	numeric := []byte(`{"event_type":"jobs.on_duration_warning_threshold_exceeded","workspace_id":6051921418418893,"run":{"run_id":1102044718239904},"job":{"job_id":845213907761204,"name":"etl_vendas_daily"}}`)
	runs, err := in.Client.HandleWebhook(ctx, in.ID(), sdk.Webhook{Body: numeric})
	if err != nil || len(runs) != 1 || runs[0].ExternalID != "1102044718239904" || runs[0].Attributes["duration_warning"] != "true" {
		t.Errorf("numeric ids: %v %v", runs, err)
	}
	cases := []struct {
		name string
		body string
		kind sdk.ErrorKind
	}{
		{"not json", `<html>`, sdk.KindPermanent},
		{"no run id", `{"event_type":"jobs.on_start","run":{}}`, sdk.KindPermanent},
		{"id not a number", `{"event_type":"jobs.on_start","run":{"run_id":"abc"}}`, sdk.KindPermanent},
		{"run does not exist", `{"event_type":"jobs.on_failure","run":{"run_id":"1102044718999999"}}`, sdk.KindNotFound},
	}
	for _, c := range cases {
		_, err := in.Client.HandleWebhook(ctx, in.ID(), sdk.Webhook{Body: []byte(c.body)})
		var e *sdk.Error
		if !errors.As(err, &e) || e.Kind != c.kind {
			t.Errorf("%s: %v, want a %s error", c.name, err, c.kind)
		}
	}
}

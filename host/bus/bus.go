package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Topics. Consumers subscribe by topic; the payload type of each is
// documented next to it.
const (
	// TopicRunChanged: a run was created, or its state, timing or error
	// changed. Payload: RunChanged.
	TopicRunChanged = "run.changed"
	// TopicMetricAppended: business metric points were stored. Payload:
	// MetricAppended.
	TopicMetricAppended = "metric.appended"
	// TopicAlertChanged, TopicExportChanged and TopicDashboardChanged are
	// published by the alert, report and dashboard packages.
	TopicAlertChanged     = "alert.changed"
	TopicExportChanged    = "export.changed"
	TopicDashboardChanged = "dashboard.changed"
)

// Event is one message on the bus. Every field is JSON, so an event crosses
// process boundaries (Redis Streams, SSE) unchanged.
type Event struct {
	// ID is unique per event and time-ordered (UUIDv7); SSE uses it as
	// the event id.
	ID string `json:"id"`
	// Topic is one of the Topic… constants.
	Topic string `json:"topic"`
	// ProfileID is the tenant the event belongs to. Consumers serving a
	// user (SSE) must drop events of other profiles.
	ProfileID string `json:"profile_id"`
	// Time is when the event was published.
	Time time.Time `json:"time"`
	// Payload is the topic's payload type, JSON-encoded.
	Payload json.RawMessage `json:"payload"`
}

// Decode unmarshals the payload into v (a pointer to the topic's payload
// type).
func (e Event) Decode(v any) error {
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return fmt.Errorf("decode %s event %s: %w", e.Topic, e.ID, err)
	}
	return nil
}

// NewEvent builds an event with a fresh id and the current time.
func NewEvent(topic, profileID string, payload any) (Event, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s event: %w", topic, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Event{}, fmt.Errorf("event id: %w", err)
	}
	return Event{ID: id.String(), Topic: topic, ProfileID: profileID, Time: time.Now().UTC(), Payload: raw}, nil
}

// Bus publishes events to the subscribers of their topic.
//
// Publish never blocks on a subscriber: each subscription has a bounded
// buffer, and when it is full the oldest buffered event is dropped (and
// counted) to make room. Events of one publisher reach a subscriber in
// publication order, minus the dropped ones.
type Bus interface {
	// Publish sends ev to the current subscribers of ev.Topic. It fails
	// only when the event is unusable (no topic) or, for a remote bus, when
	// the bus cannot be reached; ID and Time are filled in when empty.
	Publish(ctx context.Context, ev Event) error
	// Subscribe returns the events of the given topics (all topics when
	// none is given) published from now on, and a function that ends the
	// subscription and closes the channel. cancel is idempotent.
	Subscribe(topics ...string) (events <-chan Event, cancel func())
}

// ErrNoTopic is returned by Publish for an event without a topic.
var ErrNoTopic = errors.New("bus: event has no topic")

// RunChanged is the payload of TopicRunChanged.
type RunChanged struct {
	SourceID           string `json:"source_id"`
	PipelineID         string `json:"pipeline_id,omitempty"`
	PipelineExternalID string `json:"pipeline_external_id,omitempty"`
	RunID              string `json:"run_id"`
	ExternalID         string `json:"external_id"`
	State              string `json:"state"`
	// PreviousState is empty when the run is new.
	PreviousState string `json:"previous_state,omitempty"`
	New           bool   `json:"new,omitempty"`
}

// MetricAppended is the payload of TopicMetricAppended.
type MetricAppended struct {
	// Series lists the distinct series keys of the points, sorted.
	Series []string `json:"series"`
	// Points is how many points were stored.
	Points int `json:"points"`
	// From and To bound the points' times (inclusive).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

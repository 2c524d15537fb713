package main

import (
	"encoding/json"
	"fmt"
	"time"
)

// The Airflow payloads the connector reads, for both API majors. Fields
// one major lacks stay empty; unknown fields are ignored, as newer
// Airflows add some.

// apiTime is a nullable RFC 3339 date-time (Airflow 2 prints offsets,
// Airflow 3 "Z"). A value that does not parse makes the page malformed.
type apiTime struct{ time.Time }

func (t *apiTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("date-time must be a string, got %s", b)
	}
	if s == "" {
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("date-time %q is not RFC 3339", s)
	}
	t.Time = v.UTC()
	return nil
}

type dagRunList struct {
	DagRuns      *[]dagRunJSON `json:"dag_runs"`
	TotalEntries *int          `json:"total_entries"`
}

type dagRunJSON struct {
	DagID              string   `json:"dag_id"`
	DagRunID           string   `json:"dag_run_id"`
	DagDisplayName     string   `json:"dag_display_name"`
	State              string   `json:"state"`
	RunType            string   `json:"run_type"`
	LogicalDate        apiTime  `json:"logical_date"`
	QueuedAt           apiTime  `json:"queued_at"`
	StartDate          apiTime  `json:"start_date"`
	EndDate            apiTime  `json:"end_date"`
	RunAfter           apiTime  `json:"run_after"`
	Duration           *float64 `json:"duration"`
	TriggeredBy        string   `json:"triggered_by"`
	TriggeringUserName *string  `json:"triggering_user_name"`
	ExternalTrigger    *bool    `json:"external_trigger"`
	Note               *string  `json:"note"`
}

type taskList struct {
	TaskInstances *[]taskJSON `json:"task_instances"`
	TotalEntries  *int        `json:"total_entries"`
}

type taskJSON struct {
	TaskID          string  `json:"task_id"`
	TaskDisplayName string  `json:"task_display_name"`
	MapIndex        *int    `json:"map_index"`
	State           *string `json:"state"`
	TryNumber       int     `json:"try_number"`
	MaxTries        int     `json:"max_tries"`
	StartDate       apiTime `json:"start_date"`
	EndDate         apiTime `json:"end_date"`
	Operator        *string `json:"operator"`
	Hostname        *string `json:"hostname"`
}

type dagList struct {
	Dags         *[]dagJSON `json:"dags"`
	TotalEntries *int       `json:"total_entries"`
}

type dagJSON struct {
	DagID          string   `json:"dag_id"`
	DagDisplayName string   `json:"dag_display_name"`
	Description    *string  `json:"description"`
	IsPaused       *bool    `json:"is_paused"`
	IsActive       *bool    `json:"is_active"`
	IsStale        *bool    `json:"is_stale"`
	Owners         []string `json:"owners"`
	Tags           []struct {
		Name string `json:"name"`
	} `json:"tags"`
	// Airflow 2: {"__type": "CronExpression", "value": "0 6 * * 1-5"} or null.
	ScheduleInterval *struct {
		Type  string          `json:"__type"`
		Value json.RawMessage `json:"value"`
	} `json:"schedule_interval"`
	// Airflow 3: "0 6 * * 1-5" or null.
	TimetableSummary     *string `json:"timetable_summary"`
	TimetableDescription *string `json:"timetable_description"`
}

type versionJSON struct {
	Version *string `json:"version"`
}

type healthJSON struct {
	Scheduler *struct {
		Status    *string `json:"status"`
		Heartbeat *string `json:"latest_scheduler_heartbeat"`
	} `json:"scheduler"`
}

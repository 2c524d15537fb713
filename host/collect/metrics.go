package collect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/bus"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/store"
)

// MaxMetricPoints bounds one POST /api/v1/metrics batch.
const MaxMetricPoints = 10000

// metricPoint is one point as a client sends it. Pointers tell a missing
// field from a zero one.
type metricPoint struct {
	Series *string           `json:"series"`
	Time   *string           `json:"time"`
	Value  *float64          `json:"value"`
	Labels map[string]string `json:"labels"`
}

// handleMetrics stores a batch of business metric points: all of them, or
// — when any is invalid — none, with every problem listed by JSON pointer
// (/points/3/time).
func (c *Collector) handleMetrics(gc *gin.Context) {
	var req struct {
		Points []json.RawMessage `json:"points"`
	}
	if err := api.DecodeJSON(gc, &req); err != nil {
		api.Fail(gc, err)
		return
	}
	switch {
	case req.Points == nil:
		fail := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "points is required: send {\"points\": [{\"series\", \"time\", \"value\", \"labels\"}]}")
		fail.Fields = []api.FieldProblem{{Field: "/points", Message: "is required"}}
		api.Fail(gc, fail)
		return
	case len(req.Points) > MaxMetricPoints:
		fail := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%d points in one request; the limit is %d: split the batch", len(req.Points), MaxMetricPoints)
		fail.Fields = []api.FieldProblem{{Field: "/points", Message: fmt.Sprintf("has more than %d items", MaxMetricPoints)}}
		api.Fail(gc, fail)
		return
	}
	points, probs := parsePoints(req.Points)
	if len(probs) > 0 {
		fail := api.Errorf(http.StatusBadRequest, api.CodeInvalid, "%d problem(s) in the points, first %s: %s; nothing was stored",
			len(probs), probs[0].Field, probs[0].Message)
		fail.Fields = probs
		api.Fail(gc, fail)
		return
	}
	ctx := gc.Request.Context()
	n, err := c.db.Metrics().Append(ctx, points)
	if err != nil {
		api.Fail(gc, err)
		return
	}
	if n > 0 {
		c.publishMetrics(gc, points)
	}
	gc.JSON(http.StatusOK, gin.H{"accepted": n})
}

func parsePoints(raws []json.RawMessage) ([]store.MetricPoint, []api.FieldProblem) {
	var probs []api.FieldProblem
	out := make([]store.MetricPoint, 0, len(raws))
	for i, raw := range raws {
		at := fmt.Sprintf("/points/%d", i)
		bad := func(field, msg string) { probs = append(probs, api.FieldProblem{Field: at + field, Message: msg}) }
		var mp metricPoint
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&mp); err != nil {
			var typ *json.UnmarshalTypeError
			switch {
			case errors.As(err, &typ) && typ.Field != "":
				bad("/"+strings.ReplaceAll(typ.Field, ".", "/"), fmt.Sprintf("must be %s, got %s", jsonKind(typ.Type.Kind().String()), typ.Value))
			case strings.HasPrefix(err.Error(), "json: unknown field "):
				bad("/"+strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field: a point has series, time, value and labels")
			default:
				bad("", "must be an object {series, time, value, labels}: "+err.Error())
			}
			continue
		}
		pt := store.MetricPoint{Labels: mp.Labels}
		n := len(probs)
		if mp.Series == nil || strings.TrimSpace(*mp.Series) == "" {
			bad("/series", "is required")
		} else if len(*mp.Series) > store.MaxSeriesLength {
			bad("/series", fmt.Sprintf("is longer than %d bytes", store.MaxSeriesLength))
		} else if !storableText(*mp.Series) {
			bad("/series", "must not contain NUL characters")
		} else {
			pt.Series = strings.TrimSpace(*mp.Series)
		}
		if mp.Time == nil || *mp.Time == "" {
			bad("/time", "is required (RFC 3339, e.g. 2026-11-17T00:00:00Z)")
		} else if t, err := time.Parse(time.RFC3339Nano, *mp.Time); err != nil {
			bad("/time", fmt.Sprintf("is not an RFC 3339 date-time: %q", *mp.Time))
		} else {
			pt.Time = t
		}
		if mp.Value == nil {
			bad("/value", "is required (a number)")
		} else {
			pt.Value = *mp.Value
		}
		if len(mp.Labels) > store.MaxMetricLabels {
			bad("/labels", fmt.Sprintf("has more than %d labels", store.MaxMetricLabels))
		}
		for k := range mp.Labels {
			if strings.TrimSpace(k) == "" {
				bad("/labels", "has an empty label name")
				break
			}
		}
		if len(probs) == n {
			out = append(out, pt)
		}
	}
	return out, probs
}

func jsonKind(goKind string) string {
	switch goKind {
	case "map", "struct":
		return "an object"
	case "string":
		return "a string"
	case "float64", "float32":
		return "a number"
	case "ptr":
		return "a value of another type"
	}
	return "a " + goKind
}

// publishMetrics announces the appended points: one event per batch.
func (c *Collector) publishMetrics(gc *gin.Context, points []store.MetricPoint) {
	p, _ := identity.From(gc.Request.Context())
	seen := map[string]bool{}
	ev := bus.MetricAppended{Points: len(points), From: points[0].Time.UTC(), To: points[0].Time.UTC()}
	for _, pt := range points {
		if !seen[pt.Series] {
			seen[pt.Series] = true
			ev.Series = append(ev.Series, pt.Series)
		}
		if pt.Time.Before(ev.From) {
			ev.From = pt.Time.UTC()
		}
		if pt.Time.After(ev.To) {
			ev.To = pt.Time.UTC()
		}
	}
	sort.Strings(ev.Series)
	e, err := bus.NewEvent(bus.TopicMetricAppended, p.ProfileID, ev)
	if err == nil {
		err = c.bus.Publish(gc.Request.Context(), e)
	}
	if err != nil {
		c.log.Warn("could not publish appended metrics", "error", err)
	}
}

package cards

import (
	"encoding/json"
	"strings"

	"github.com/puod/puod/host/api"
)

// BuiltinPluginID is the plugin id of the host's own card types.
const BuiltinPluginID = "puod"

// Built-in card types.
const (
	TypePipelinesOverview = "puod.pipelines_overview"
	TypeRecentFailures    = "puod.recent_failures"
	TypeDurationTrend     = "puod.duration_trend"
	TypeSuccessRate       = "puod.success_rate"
	TypeRunsBySource      = "puod.runs_by_source"
	TypeStatusGrid        = "puod.status_grid"
	TypeFiringAlerts      = "puod.firing_alerts"
)

// Option bounds of the built-in card types.
const (
	maxTableRows      = 500
	maxTrendTop       = 20
	maxGridPipelines  = 100
	maxGridRunsPerRow = 50
)

// sourceIDSchema and pipelineIDSchema are the id options the built-ins share.
const (
	sourceIDSchema   = `"source_id": {"type": "string", "minLength": 1, "title": "Source", "description": "Only the runs of this source (its id)."}`
	pipelineIDSchema = `"pipeline_id": {"type": "string", "minLength": 1, "title": "Pipeline", "description": "Only the runs of this pipeline (its id)."}`
)

func optionsSchema(props ...string) json.RawMessage {
	return json.RawMessage(`{"type": "object", "additionalProperties": false, "properties": {` + strings.Join(props, ", ") + `}}`)
}

var builtinTypes = []api.CardType{
	{
		Type: TypePipelinesOverview, PluginID: BuiltinPluginID, Title: "Pipelines overview",
		Description:   "Each pipeline with runs in the time range: runs, failures, success rate, mean duration and its last run. Most failures first.",
		Visualization: "table",
		OptionsSchema: optionsSchema(sourceIDSchema,
			`"limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50, "title": "Rows", "description": "Most pipelines shown."}`),
		DefaultSize: &api.CardSize{W: 12, H: 6},
	},
	{
		Type: TypeRecentFailures, PluginID: BuiltinPluginID, Title: "Recent failures",
		Description:   "The newest failed or timed-out runs of the time range, with their error and a link to the run.",
		Visualization: "table",
		OptionsSchema: optionsSchema(sourceIDSchema, pipelineIDSchema,
			`"limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 20, "title": "Rows", "description": "Most runs shown."}`),
		DefaultSize: &api.CardSize{W: 12, H: 5},
	},
	{
		Type: TypeDurationTrend, PluginID: BuiltinPluginID, Title: "Duration trend",
		Description:   "Mean run duration per hour or day of the pipelines with the most run time in the time range.",
		Visualization: "timeseries",
		OptionsSchema: optionsSchema(sourceIDSchema, pipelineIDSchema,
			`"bucket": {"enum": ["auto", "hour", "day"], "default": "auto", "title": "Bucket", "description": "auto: hours up to 2 days, days beyond."}`,
			`"top": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5, "title": "Pipelines", "description": "How many pipelines are drawn (those with the most run time)."}`),
		DefaultSize: &api.CardSize{W: 8, H: 4},
	},
	{
		Type: TypeSuccessRate, PluginID: BuiltinPluginID, Title: "Success rate",
		Description:   "Share of the finished runs of the time range that succeeded (skipped runs aside), with the trend against the period of the same length before it.",
		Visualization: "stat",
		OptionsSchema: optionsSchema(sourceIDSchema, pipelineIDSchema),
		DefaultSize:   &api.CardSize{W: 3, H: 2},
	},
	{
		Type: TypeRunsBySource, PluginID: BuiltinPluginID, Title: "Runs by source",
		Description:   "How many runs each source had in the time range, and how many failed.",
		Visualization: "bar",
		OptionsSchema: optionsSchema(),
		DefaultSize:   &api.CardSize{W: 4, H: 3},
	},
	{
		Type: TypeStatusGrid, PluginID: BuiltinPluginID, Title: "Recent runs",
		Description:   "The most recently active pipelines, each with its latest runs as cells coloured by state; click a cell to open the run.",
		Visualization: "status-grid",
		OptionsSchema: optionsSchema(sourceIDSchema,
			`"runs_per_pipeline": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10, "title": "Runs per pipeline"}`,
			`"limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20, "title": "Pipelines", "description": "Most pipelines shown."}`),
		DefaultSize: &api.CardSize{W: 6, H: 4},
	},
	{
		Type: TypeFiringAlerts, PluginID: BuiltinPluginID, Title: "Firing alerts",
		Description:   "The alerts firing now (and pending ones if asked), newest first: since when, which rule, its severity, the pipeline or series, the value and who acknowledged it. The time range does not apply: alerts are current state.",
		Visualization: "table",
		OptionsSchema: optionsSchema(
			`"severity": {"enum": ["info", "warning", "critical"], "title": "Severity", "description": "Only the alerts of rules of this severity."}`,
			`"include_pending": {"type": "boolean", "default": false, "title": "Include pending", "description": "Also show alerts whose condition holds but has not lasted long enough to fire."}`,
			`"limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 20, "title": "Rows", "description": "Most alerts shown."}`),
		DefaultSize: &api.CardSize{W: 12, H: 5},
	},
}

// Builtins lists the host's card types for the catalog
// (GET /api/v1/card-types); it implements api.CardTypeSource.
type Builtins struct{}

var _ api.CardTypeSource = Builtins{}

// CardTypes returns a copy of the built-in card types.
func (Builtins) CardTypes() []api.CardType {
	out := make([]api.CardType, len(builtinTypes))
	copy(out, builtinTypes)
	return out
}

func builtinType(t string) (api.CardType, bool) {
	for _, ct := range builtinTypes {
		if ct.Type == t {
			return ct, true
		}
	}
	return api.CardType{}, false
}

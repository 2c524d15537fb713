package dashboards_test

import (
	"encoding/json"
	"testing"

	"github.com/puod/puod/dashboards"
	hostdash "github.com/puod/puod/host/dashboards"
	"github.com/puod/puod/sdk/schema"
)

// TestFiles_validate: every shipped dashboard validates against the
// schema (as an editor or CI would check it) and against the host's own
// rules, which the schema cannot state (unique card ids, x + w ≤ 12, time
// ranges that parse).
func TestFiles_validate(t *testing.T) {
	t.Parallel()
	sch, err := schema.Compile(dashboards.Schema())
	if err != nil {
		t.Fatalf("%s does not compile: %v", dashboards.SchemaFile, err)
	}
	files := dashboards.Files()
	if len(files) == 0 {
		t.Fatal("no dashboard is embedded")
	}
	slugs := map[string]string{}
	for _, f := range files {
		t.Run(f.Name, func(t *testing.T) {
			if probs := sch.ValidateJSON(f.Data); len(probs) > 0 {
				t.Fatalf("schema problems: %v", probs)
			}
			doc, err := hostdash.ParseDocument(f.Data)
			if err != nil {
				t.Fatalf("host validation: %v", err)
			}
			if other, dup := slugs[doc.Slug]; dup {
				t.Fatalf("slug %q is also the slug of %s", doc.Slug, other)
			}
			slugs[doc.Slug] = f.Name
			if doc.Slug+".json" != f.Name {
				t.Errorf("file %s holds slug %q: name files after their slug", f.Name, doc.Slug)
			}
		})
	}
	if _, ok := slugs["pipelines-overview"]; !ok {
		t.Error("the default dashboard pipelines-overview is not shipped")
	}
}

// TestPipelinesOverview_builtInCards: the default dashboard uses the
// built-in card types only, each once, and fills the 12 columns without
// overlaps.
func TestPipelinesOverview_builtInCards(t *testing.T) {
	t.Parallel()
	var data []byte
	for _, f := range dashboards.Files() {
		if f.Name == "pipelines-overview.json" {
			data = f.Data
		}
	}
	doc, err := hostdash.ParseDocument(data)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Title != "Pipelines overview" {
		t.Errorf("title %q", doc.Title)
	}
	want := map[string]bool{"puod.success_rate": true, "puod.runs_by_source": true, "puod.duration_trend": true,
		"puod.status_grid": true, "puod.recent_failures": true, "puod.pipelines_overview": true}
	type cell struct{ x, y int }
	used := map[cell]string{}
	for _, c := range doc.Cards {
		if !want[c.Type] {
			t.Errorf("card %s: type %s is not a built-in card type or is used twice", c.ID, c.Type)
		}
		delete(want, c.Type)
		if c.W < 2 || c.H < 2 {
			t.Errorf("card %s is %dx%d: the grid's minimum is 2x2", c.ID, c.W, c.H)
		}
		var opts map[string]any
		if err := json.Unmarshal(c.Options, &opts); err != nil {
			t.Errorf("card %s options: %v", c.ID, err)
		}
		for x := c.X; x < c.X+c.W; x++ {
			for y := c.Y; y < c.Y+c.H; y++ {
				if other, taken := used[cell{x, y}]; taken {
					t.Fatalf("cards %s and %s overlap at (%d,%d)", other, c.ID, x, y)
				}
				used[cell{x, y}] = c.ID
			}
		}
	}
	for typ := range want {
		t.Errorf("built-in card type %s is missing", typ)
	}
}

// TestSchema_refuses: the schema catches what an editor should flag.
func TestSchema_refuses(t *testing.T) {
	t.Parallel()
	sch := schema.MustCompile(dashboards.Schema())
	for name, doc := range map[string]string{
		"no cards":       `{"slug": "a", "title": "A"}`,
		"bad slug":       `{"slug": "A B", "title": "A", "cards": []}`,
		"unknown field":  `{"slug": "a", "title": "A", "cards": [], "panels": []}`,
		"bad time":       `{"slug": "a", "title": "A", "cards": [], "time_range": {"from": "yesterday", "to": "now"}}`,
		"card type int":  `{"slug": "a", "title": "A", "cards": [{"id": "c", "type": 1, "x": 0, "y": 0, "w": 1, "h": 1}]}`,
		"zero width":     `{"slug": "a", "title": "A", "cards": [{"id": "c", "type": "t", "x": 0, "y": 0, "w": 0, "h": 1}]}`,
		"x off the grid": `{"slug": "a", "title": "A", "cards": [{"id": "c", "type": "t", "x": 12, "y": 0, "w": 1, "h": 1}]}`,
	} {
		if probs := sch.ValidateJSON([]byte(doc)); len(probs) == 0 {
			t.Errorf("%s: the schema accepts %s", name, doc)
		}
	}
	ok := `{"$schema": "./dashboard.schema.json", "slug": "a", "title": "A", "cards": [
	  {"id": "c", "type": "t", "x": 0, "y": 0, "w": 12, "h": 1, "time_range": null},
	  {"id": "d", "type": "t", "x": 0, "y": 1, "w": 1, "h": 1, "time_range": {"from": "2026-01-02T03:04:05Z", "to": "now"}}]}`
	if probs := sch.ValidateJSON([]byte(ok)); len(probs) > 0 {
		t.Errorf("the schema refuses a valid document: %v", probs)
	}
}

package plugintest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/manifest"
)

// ExporterSuite configures RunExporterSuite.
type ExporterSuite[C any] struct {
	Plugin         sdk.Plugin[C]
	ValidConfig    json.RawMessage
	Secrets        map[string]string
	InvalidConfigs []InvalidConfig
	BundleDir      string
	ManifestPath   string
	// Frames are exported in every format (default SampleFrames).
	Frames []*sdk.Frame
	// Verify, when set, checks a file the plugin wrote from frames.
	Verify func(format string, file []byte, frames []*sdk.Frame) error
	// Timeout bounds each call to the plugin (default 30 s).
	Timeout time.Duration
	// Faults is reserved for fault injection hooks.
	Faults Faults
}

// RunExporterSuite checks that an exporter keeps PUOD's contract, each
// check a subtest: describe, config_schema, valid_config,
// invalid_config/*, health, export/<format> (the frames, and no frames at
// all), unknown_format and no_secret_leak.
func RunExporterSuite[C any](t testing.TB, s ExporterSuite[C]) {
	t.Helper()
	want := LoadManifest(t, s.BundleDir, s.ManifestPath, s.Plugin.Manifest)
	if !want.HasKind(manifest.KindExporter) {
		t.Fatalf("plugin.json kinds are %v: RunExporterSuite tests exporters", want.Kinds)
	}
	h := Start(t, s.Plugin)
	tr := &Transcript{}
	cases := checkConfigs(t, h.Client, want, s.ValidConfig, s.Secrets, s.InvalidConfigs, nil, tr)
	in := Configure(t, h.Client, sdk.InstanceConfig{ID: "conformance", Revision: 1, Config: s.ValidConfig, Secrets: s.Secrets})
	in.Timeout, in.Transcript = s.Timeout, tr
	run(t, "health", func(t testing.TB) { CheckHealth(t, in) })
	frames := s.Frames
	if len(frames) == 0 {
		frames = SampleFrames()
	}
	run(t, "export", func(t testing.TB) {
		for _, f := range want.Exports {
			run(t, f.ID, func(t testing.TB) {
				file := CheckExport(t, in, f, frames)
				if s.Verify != nil && file != nil {
					if err := s.Verify(f.ID, file, frames); err != nil {
						t.Errorf("the %s file does not hold the frames: %v", f.ID, err)
					}
				}
				CheckExport(t, in, f, nil)
			})
		}
	})
	run(t, "unknown_format", func(t testing.TB) {
		ctx, cancel := in.context()
		defer cancel()
		_, err := in.Client.Export(ctx, in.ID(), sdk.ExportHeader{Format: "no-such-format", Title: "conformance"}, &sliceFrames{}, io.Discard)
		in.Transcript.RecordError("Export", err)
		if !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("Export in an undeclared format answers %v, want a not-found error", err)
		}
	})
	run(t, "no_secret_leak", func(t testing.TB) {
		CheckNoSecrets(t, allSecrets(append([]map[string]string{s.Secrets}, cases...)...), tr.Entries())
	})
}

// CheckExport exports frames in format and checks the file: no error, a
// name with the format's extension, its MIME type, and content when there
// were frames. It returns the file's content.
func CheckExport(t testing.TB, in *Instance, format manifest.ExportFormat, frames []*sdk.Frame) []byte {
	t.Helper()
	ctx, cancel := in.context()
	defer cancel()
	var buf bytes.Buffer
	h := sdk.ExportHeader{Format: format.ID, Title: "conformance", JobID: "conformance-job",
		TimeRange: sdk.TimeRange{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}}
	file, err := in.Client.Export(ctx, in.ID(), h, &sliceFrames{frames: frames}, &buf)
	in.Transcript.RecordError("Export", err)
	if err != nil {
		checkTyped(t, "Export", err)
		t.Errorf("Export(%s) of %d frames failed: %v", format.ID, len(frames), err)
		return nil
	}
	if !strings.HasSuffix(file.Name, "."+format.Extension) {
		t.Errorf("Export(%s) names the file %q, want the extension .%s", format.ID, file.Name, format.Extension)
	}
	if file.MIMEType != format.MIMEType {
		t.Errorf("Export(%s) answers MIME type %q, plugin.json says %q", format.ID, file.MIMEType, format.MIMEType)
	}
	if file.Size != int64(buf.Len()) {
		t.Errorf("Export(%s) reports %d bytes but %d arrived", format.ID, file.Size, buf.Len())
	}
	if len(frames) > 0 && buf.Len() == 0 {
		t.Errorf("Export(%s) of %d frames wrote an empty file", format.ID, len(frames))
	}
	return buf.Bytes()
}

// sliceFrames serves frames from a slice.
type sliceFrames struct {
	frames []*sdk.Frame
	next   int
}

func (s *sliceFrames) Next() (*sdk.Frame, error) {
	if s.next == len(s.frames) {
		return nil, io.EOF
	}
	s.next++
	return s.frames[s.next-1], nil
}

// SampleFrames returns frames that use every field type, units and nulls:
// a table of runs and a time series.
func SampleFrames() []*sdk.Frame {
	t0 := time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC)
	runs := sdk.NewFrame("runs", sdk.FrameTable,
		sdk.StringField("pipeline"), sdk.IntField("attempt"), sdk.FloatField("rows").WithUnit("rows"),
		sdk.BoolField("ok"), sdk.TimeField("started_at"), sdk.DurationField("duration").WithLabel("Duration"))
	for _, row := range [][]any{
		{"ETL_Vendas", int64(1), 1250.5, true, t0, 7 * time.Minute},
		{"ETL, \"quoted\"", int64(2), nil, false, t0.Add(time.Hour), nil},
		{"Relatório diário", nil, 0.0, true, nil, 90 * time.Second},
	} {
		if err := runs.AppendRow(row...); err != nil {
			panic(err)
		}
	}
	series := sdk.NewFrame("duration_per_hour", sdk.FrameTimeSeries,
		sdk.TimeField("time", t0, t0.Add(time.Hour), t0.Add(2*time.Hour)),
		sdk.FloatField("seconds", 420, 380.5, 401).WithUnit("s"))
	return []*sdk.Frame{runs, series}
}

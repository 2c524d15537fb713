package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"testing"

	"github.com/puod/puod/sdk"
	"github.com/puod/puod/sdk/plugintest"
)

func TestCSVExport_conformance(t *testing.T) {
	plugintest.RunExporterSuite(t, plugintest.ExporterSuite[Config]{
		Plugin:      sdk.Plugin[Config]{Manifest: manifest, New: newExporter},
		BundleDir:   ".",
		ValidConfig: []byte(`{"separator": "semicolon"}`),
		InvalidConfigs: []plugintest.InvalidConfig{
			{Name: "unknown separator", Config: []byte(`{"separator": "pipe"}`), Field: "/separator"},
		},
		Verify: verifyCSV,
	})
}

// verifyCSV checks the file holds one block per frame: a header and its rows.
func verifyCSV(_ string, file []byte, frames []*sdk.Frame) error {
	r := csv.NewReader(bytes.NewReader(file))
	r.Comma, r.FieldsPerRecord = ';', -1
	records, err := r.ReadAll()
	if err != nil {
		return err
	}
	want := 0
	for _, f := range frames {
		want += 1 + f.Rows()
	}
	// encoding/csv skips empty lines, so the separators don't count.
	if len(records) != want {
		return fmt.Errorf("%d records, want %d", len(records), want)
	}
	if got := records[0][0]; got != frames[0].Fields[0].Name {
		return fmt.Errorf("first header is %q, want %q", got, frames[0].Fields[0].Name)
	}
	return nil
}

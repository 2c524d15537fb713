// Command acme-csv-export is an example third-party PUOD exporter: it
// writes each frame as a block of CSV (a header row, then the rows),
// streaming as it goes, with blocks separated by an empty line.
package main

import (
	"context"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/puod/puod/sdk"
)

//go:embed plugin.json
var manifest []byte

// Config is one exporter's configuration.
type Config struct {
	Separator string `json:"separator,omitempty" jsonschema:"enum=comma,enum=semicolon,enum=tab,default=comma"`
}

var separators = map[string]rune{"": ',', "comma": ',', "semicolon": ';', "tab": '\t'}

type exporter struct{ comma rune }

func newExporter(_ context.Context, cfg Config, _ sdk.Env) (any, error) {
	return &exporter{comma: separators[cfg.Separator]}, nil
}

func (x *exporter) Export(ctx context.Context, _ sdk.ExportHeader, frames sdk.FrameReader, w io.Writer) error {
	out := csv.NewWriter(w)
	out.Comma = x.comma
	for n := 0; ; n++ {
		f, err := frames.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if n > 0 {
			out.Write([]string{""}) // the empty line between frames
		}
		row := make([]string, len(f.Fields))
		for i, field := range f.Fields {
			row[i] = field.Name
		}
		out.Write(row)
		for r := 0; r < f.Rows() && ctx.Err() == nil; r++ {
			for i, field := range f.Fields {
				row[i] = format(field.Value(r))
			}
			out.Write(row)
		}
		out.Flush()
		if err := out.Error(); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func format(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case time.Time:
		return v.Format(time.RFC3339)
	case time.Duration:
		return fmt.Sprint(v.Seconds())
	}
	return fmt.Sprint(v)
}

func main() {
	sdk.Serve(sdk.Plugin[Config]{Manifest: manifest, New: newExporter})
}

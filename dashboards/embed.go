// Package dashboards holds the dashboards PUOD ships as code: one JSON
// document per dashboard (dashboards/*.json), validated by
// dashboard.schema.json and embedded in the binary, so every host
// provisions the same defaults into every profile (see host/dashboards).
// The web app in dashboards/web is a separate build and not part of this
// package.
package dashboards

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// SchemaFile is the name of the JSON Schema (2020-12) of a dashboard
// document, next to the documents.
const SchemaFile = "dashboard.schema.json"

//go:embed *.json
var files embed.FS

// Schema returns the JSON Schema of a dashboard document.
func Schema() []byte {
	b, err := files.ReadFile(SchemaFile)
	if err != nil {
		// Embedded at build time: it cannot be missing.
		panic(fmt.Sprintf("dashboards: embedded schema: %v", err))
	}
	return b
}

// File is one dashboard document.
type File struct {
	// Name is the file name, e.g. pipelines-overview.json.
	Name string
	Data []byte
}

// Files returns the embedded dashboard documents (the schema excluded),
// sorted by name.
func Files() []File {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		panic(fmt.Sprintf("dashboards: embedded files: %v", err))
	}
	var out []File
	for _, e := range entries {
		if e.IsDir() || !IsDocumentName(e.Name()) {
			continue
		}
		b, err := files.ReadFile(e.Name())
		if err != nil {
			panic(fmt.Sprintf("dashboards: embedded %s: %v", e.Name(), err))
		}
		out = append(out, File{Name: e.Name(), Data: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// IsDocumentName reports whether a file name is that of a dashboard
// document: *.json, but not a schema (*.schema.json).
func IsDocumentName(name string) bool {
	return strings.HasSuffix(name, ".json") && !strings.HasSuffix(name, ".schema.json") && !strings.HasPrefix(name, ".")
}

package api

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
	"gopkg.in/yaml.v3"
)

// openAPIFiles is the API reference, written by hand next to the handlers
// and checked against the registered routes by TestOpenAPI_coversRoutes.
// 00-base.yaml holds the info and shared components; every other file adds
// the paths (and schemas) of one area, so areas can be edited independently.
//
//go:embed openapi/*.yaml
var openAPIFiles embed.FS

// openAPISource merges the fragments into one YAML document.
var openAPISource = func() []byte {
	doc, err := mergeOpenAPI()
	if err != nil {
		panic(err)
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return out
}()

func mergeOpenAPI() (map[string]any, error) {
	entries, err := fs.ReadDir(openAPIFiles, "openapi")
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	for _, e := range entries {
		data, err := openAPIFiles.ReadFile("openapi/" + e.Name())
		if err != nil {
			return nil, err
		}
		var part map[string]any
		if err := yaml.Unmarshal(data, &part); err != nil {
			return nil, fmt.Errorf("openapi/%s: %w", e.Name(), err)
		}
		if doc == nil {
			doc = part
			if doc["paths"] == nil {
				doc["paths"] = map[string]any{}
			}
			continue
		}
		for key, val := range part {
			switch key {
			case "paths":
				if err := mergeInto(doc, "paths", val, e.Name()); err != nil {
					return nil, err
				}
			case "components":
				comps, _ := val.(map[string]any)
				base, _ := doc["components"].(map[string]any)
				for kind, defs := range comps {
					if err := mergeInto(base, kind, defs, e.Name()); err != nil {
						return nil, err
					}
				}
			default:
				return nil, fmt.Errorf("openapi/%s: only paths and components may appear in a fragment, found %q", e.Name(), key)
			}
		}
	}
	return doc, nil
}

func mergeInto(parent map[string]any, key string, val any, file string) error {
	add, _ := val.(map[string]any)
	cur, _ := parent[key].(map[string]any)
	if cur == nil {
		cur = map[string]any{}
		parent[key] = cur
	}
	for k, v := range add {
		if _, dup := cur[k]; dup {
			return fmt.Errorf("openapi/%s: %s %q is defined twice", file, key, k)
		}
		cur[k] = v
	}
	return nil
}

// OpenAPIDocument returns the OpenAPI document as JSON.
func OpenAPIDocument() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPISource, &doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return json.Marshal(doc)
}

// OpenAPIOperations lists the document's operations as "METHOD /path" with
// gin-style parameters (":id"), for comparison with the router.
func OpenAPIOperations() ([]string, error) {
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPISource, &doc); err != nil {
		return nil, err
	}
	var out []string
	for path, ops := range doc.Paths {
		ginPath := path
		for {
			i := strings.Index(ginPath, "{")
			if i < 0 {
				break
			}
			j := strings.Index(ginPath[i:], "}")
			ginPath = ginPath[:i] + ":" + ginPath[i+1:i+j] + ginPath[i+j+1:]
		}
		for method := range ops {
			switch method {
			case "get", "post", "put", "patch", "delete":
				out = append(out, strings.ToUpper(method)+" "+ginPath)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func (s *Server) registerOpenAPI() {
	doc, err := OpenAPIDocument()
	if err != nil {
		panic(err)
	}
	s.Public(http.MethodGet, "/openapi.json", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json", doc)
	})
}

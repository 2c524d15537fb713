package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
	"gopkg.in/yaml.v3"
)

// openAPISource is the API reference, written by hand next to the handlers
// and checked against the registered routes by TestOpenAPI_coversRoutes.
//
//go:embed openapi.yaml
var openAPISource []byte

// OpenAPIDocument returns the OpenAPI document as JSON.
func OpenAPIDocument() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPISource, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
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

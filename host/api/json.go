package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// DecodeJSON reads the request body strictly into v: unknown fields,
// trailing data, wrong types and oversize bodies are errors naming what to
// fix. It returns an *Error ready for Fail.
func DecodeJSON(c *gin.Context, v any) error {
	if ct := c.ContentType(); ct != "" && ct != "application/json" {
		return Errorf(http.StatusUnsupportedMediaType, CodeInvalid, "Content-Type must be application/json, got %s", ct)
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body exceeds the limit of %d bytes", tooBig.Limit)
		}
		return Errorf(http.StatusBadRequest, CodeInvalid, "could not read the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return Errorf(http.StatusBadRequest, CodeInvalid, "request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return Errorf(http.StatusBadRequest, CodeInvalid, "request body has data after the JSON value")
	}
	return nil
}

func decodeError(err error) *Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return Errorf(http.StatusBadRequest, CodeInvalid, "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return Errorf(http.StatusBadRequest, CodeInvalid, "request body must be %s, got %s", jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		e := Errorf(http.StatusBadRequest, CodeInvalid, "field %q must be %s, got %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
		e.Fields = []FieldProblem{{Field: "/" + strings.ReplaceAll(field, ".", "/"), Message: e.Message}}
		return e
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		e := Errorf(http.StatusBadRequest, CodeInvalid, "unknown field %q in request body; check the field name against the API reference", name)
		e.Fields = []FieldProblem{{Field: "/" + name, Message: "unknown field"}}
		return e
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Errorf(http.StatusBadRequest, CodeInvalid, "malformed JSON: the body ends early")
	}
	return Errorf(http.StatusBadRequest, CodeInvalid, "malformed JSON: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return fmt.Sprintf("a %s", goKind)
}

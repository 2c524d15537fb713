package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/identity"
)

// Error is an API error: an HTTP status, a stable machine-readable code and
// a message a person can act on. It is rendered as
// {"error":{"code":"…","message":"…"}}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Fields lists per-field problems of a request (JSON pointers).
	Fields []FieldProblem `json:"fields,omitempty"`
	// RequestID helps find the request in the logs.
	RequestID string `json:"request_id,omitempty"`
}

// FieldProblem is one invalid field of a request.
type FieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Common error codes.
const (
	CodeInvalid          = "invalid_request"
	CodeUnauthenticated  = "unauthenticated"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeTooLarge         = "payload_too_large"
	CodeRateLimited      = "rate_limited"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
	CodeMethodNotAllowed = "method_not_allowed"
)

// Errorf builds an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorMapper turns a domain error into an *Error; it returns nil for
// errors it doesn't know. Packages register theirs with AddErrorMapper.
type ErrorMapper func(error) *Error

// Fail aborts the request with err rendered as JSON. *Error values are
// used as they are; other errors go through the server's error mappers and
// end as a 500 whose details are logged, not shown.
func Fail(c *gin.Context, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if s, ok := c.Get(serverKey); ok {
			e = s.(*Server).mapError(err)
		}
	}
	if e == nil {
		if s, ok := c.Get(serverKey); ok {
			s.(*Server).log.Error("request failed", "request_id", RequestID(c), "path", c.FullPath(), "error", err)
		}
		e = Errorf(http.StatusInternalServerError, CodeInternal, "the server failed to handle the request; quote request id %s when reporting it", RequestID(c))
	}
	out := *e
	out.RequestID = RequestID(c)
	c.AbortWithStatusJSON(e.Status, gin.H{"error": out})
}

func (s *Server) mapError(err error) *Error {
	if errors.Is(err, identity.ErrNoPrincipal) {
		return Errorf(http.StatusUnauthorized, CodeUnauthenticated, "authentication required")
	}
	for _, m := range s.mappers {
		if e := m(err); e != nil {
			return e
		}
	}
	return nil
}

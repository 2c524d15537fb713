package sdk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// ErrorKind classifies an error so the host can react to it: fix the
// configuration, refresh credentials, retry later or give up.
type ErrorKind string

const (
	// KindConfig: the instance configuration is invalid. Field names it.
	KindConfig ErrorKind = "CONFIG"
	// KindAuth: the external system refused the credentials.
	KindAuth ErrorKind = "AUTH"
	// KindDownstream: the external system failed or answered something
	// unusable (5xx, malformed page). Usually retried by the next poll.
	KindDownstream ErrorKind = "DOWNSTREAM"
	// KindRetryable: try again after RetryAfter (rate limits, outages).
	KindRetryable ErrorKind = "RETRYABLE"
	// KindPermanent: retrying cannot help (e.g. a channel that doesn't exist).
	KindPermanent ErrorKind = "PERMANENT"
	// KindNotFound: the object asked for does not exist.
	KindNotFound ErrorKind = "NOT_FOUND"
	// KindUnimplemented: the plugin does not offer this capability.
	KindUnimplemented ErrorKind = "UNIMPLEMENTED"
	// KindInternal: a bug in the plugin (including a recovered panic).
	KindInternal ErrorKind = "INTERNAL"
	// KindUnconfigured: the call names an instance the plugin process does
	// not hold (for example after a restart). The host configures it again
	// and retries.
	KindUnconfigured ErrorKind = "UNCONFIGURED"
)

// errorDomain tags PUOD's ErrorInfo details on the wire.
const errorDomain = "plugin.puod.dev"

// Error is the typed error plugins return and the host receives. It crosses
// the gRPC boundary intact: the host gets an *Error with the same Kind,
// Message, Field and RetryAfter.
type Error struct {
	Kind    ErrorKind
	Message string
	// Field is the JSON pointer of the configuration field at fault
	// (KindConfig only), e.g. "/workspace_url".
	Field string
	// RetryAfter is how long to wait before retrying, when known.
	RetryAfter time.Duration
	// Err is the underlying error, kept on the plugin side only.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(strings.ToLower(string(e.Kind)))
	b.WriteString(" error")
	if e.Field != "" {
		b.WriteString(" at ")
		b.WriteString(e.Field)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil && !strings.Contains(e.Message, e.Err.Error()) {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, sdk.ErrAuth) true for any *Error of that kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Kind == e.Kind
}

// Sentinels for errors.Is: errors.Is(err, sdk.ErrRetryable).
var (
	ErrConfig        = &Error{Kind: KindConfig}
	ErrAuth          = &Error{Kind: KindAuth}
	ErrDownstream    = &Error{Kind: KindDownstream}
	ErrRetryable     = &Error{Kind: KindRetryable}
	ErrPermanent     = &Error{Kind: KindPermanent}
	ErrNotFound      = &Error{Kind: KindNotFound}
	ErrUnimplemented = &Error{Kind: KindUnimplemented}
	ErrInternal      = &Error{Kind: KindInternal}
	ErrUnconfigured  = &Error{Kind: KindUnconfigured}
)

// ConfigError reports an invalid configuration field.
func ConfigError(field, format string, args ...any) *Error {
	return &Error{Kind: KindConfig, Field: field, Message: fmt.Sprintf(format, args...)}
}

// AuthError reports credentials the external system refused.
func AuthError(format string, args ...any) *Error {
	return &Error{Kind: KindAuth, Message: fmt.Sprintf(format, args...)}
}

// DownstreamError reports a failure of the external system.
func DownstreamError(err error, format string, args ...any) *Error {
	return &Error{Kind: KindDownstream, Message: fmt.Sprintf(format, args...), Err: err}
}

// RetryableError asks the caller to retry after the given delay (0: its own backoff).
func RetryableError(after time.Duration, format string, args ...any) *Error {
	return &Error{Kind: KindRetryable, RetryAfter: after, Message: fmt.Sprintf(format, args...)}
}

// PermanentError reports a failure that retrying cannot fix.
func PermanentError(format string, args ...any) *Error {
	return &Error{Kind: KindPermanent, Message: fmt.Sprintf(format, args...)}
}

// NotFoundError reports a missing object.
func NotFoundError(format string, args ...any) *Error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf(format, args...)}
}

// FieldErrors is a list of configuration problems, returned by a config
// struct's Validate method when several fields are wrong at once.
type FieldErrors []FieldError

// FieldError is one configuration problem.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (fe FieldErrors) Error() string {
	parts := make([]string, len(fe))
	for i, f := range fe {
		if f.Field == "" {
			parts[i] = f.Message
		} else {
			parts[i] = f.Field + ": " + f.Message
		}
	}
	return "invalid configuration: " + strings.Join(parts, "; ")
}

var kindCodes = map[ErrorKind]codes.Code{
	KindConfig:        codes.InvalidArgument,
	KindAuth:          codes.Unauthenticated,
	KindDownstream:    codes.Unavailable,
	KindRetryable:     codes.Unavailable,
	KindPermanent:     codes.FailedPrecondition,
	KindNotFound:      codes.NotFound,
	KindUnimplemented: codes.Unimplemented,
	KindInternal:      codes.Internal,
	KindUnconfigured:  codes.FailedPrecondition,
}

// toStatus turns any error into a gRPC status error. Context errors keep
// their codes; untyped errors become INTERNAL (the message is kept). The
// redact function removes secret values before anything leaves the process.
func toStatus(err error, redact func(string) string) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok {
		if _, isTyped := asError(err); !isTyped {
			// A gRPC error from a vendor API keeps its code and
			// details, but its message is redacted like any other.
			p := st.Proto()
			p.Message = redact(p.GetMessage())
			return status.FromProto(p).Err()
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, redact(err.Error()))
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, redact(err.Error()))
	}
	e, ok := asError(err)
	if !ok {
		e = &Error{Kind: KindInternal, Message: err.Error()}
	}
	msg := e.Message
	if e.Err != nil && !strings.Contains(msg, e.Err.Error()) {
		if msg != "" {
			msg += ": "
		}
		msg += e.Err.Error()
	}
	msg = redact(msg)
	st := status.New(kindCodes[e.Kind], msg)
	info := &errdetails.ErrorInfo{Reason: string(e.Kind), Domain: errorDomain}
	if e.Field != "" {
		info.Metadata = map[string]string{"field": e.Field}
	}
	details := []protoadapt.MessageV1{info}
	if e.RetryAfter > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter)})
	}
	if withDetails, derr := st.WithDetails(details...); derr == nil {
		st = withDetails
	}
	return st.Err()
}

func asError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// FromStatus turns an error returned by a gRPC call to a plugin back into
// the typed *Error the plugin returned. Context cancellation and deadlines
// come back as errors wrapping context.Canceled / DeadlineExceeded; a
// transport failure (the plugin process went away) comes back as
// KindRetryable, since a restarted plugin can answer the same call.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Canceled:
		return fmt.Errorf("plugin call cancelled: %s: %w", st.Message(), context.Canceled)
	case codes.DeadlineExceeded:
		return fmt.Errorf("plugin did not answer in time (%s): %w", st.Message(), context.DeadlineExceeded)
	}
	e := &Error{Message: st.Message()}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if d.GetDomain() == errorDomain {
				e.Kind = ErrorKind(d.GetReason())
				e.Field = d.GetMetadata()["field"]
			}
		case *errdetails.RetryInfo:
			e.RetryAfter = d.GetRetryDelay().AsDuration()
		}
	}
	if e.Kind == "" {
		e.Kind = kindFromCode(st.Code())
	}
	return e
}

func kindFromCode(c codes.Code) ErrorKind {
	switch c {
	case codes.InvalidArgument:
		return KindConfig
	case codes.Unauthenticated, codes.PermissionDenied:
		return KindAuth
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted:
		return KindRetryable
	case codes.FailedPrecondition:
		return KindPermanent
	case codes.NotFound:
		return KindNotFound
	case codes.Unimplemented:
		return KindUnimplemented
	}
	return KindInternal
}

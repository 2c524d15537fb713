package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestError_message(t *testing.T) {
	cases := []struct {
		name string
		err  *Error
		want string
	}{
		{"kind only", &Error{Kind: KindInternal}, "internal error"},
		{"field and message", ConfigError("/url", "not a URL"), "config error at /url: not a URL"},
		{"retry after", RetryableError(2*time.Second, "busy"), "retryable error: busy (retry after 2s)"},
		{"cause appended", DownstreamError(errors.New("EOF"), "page 2"), "downstream error: page 2: EOF"},
		{"cause already in message", DownstreamError(errors.New("EOF"), "page 2: EOF"), "downstream error: page 2: EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.err.Error(); got != c.want {
				t.Errorf("Error() = %q, want %q", got, c.want)
			}
		})
	}
}

func TestError_isMatchesKindOnly(t *testing.T) {
	cause := errors.New("cause")
	e := DownstreamError(cause, "x")
	cases := []struct {
		name   string
		target error
		want   bool
	}{
		{"own sentinel", ErrDownstream, true},
		{"other sentinel", ErrRetryable, false},
		{"cause", cause, true},
		{"an error of the same kind with a message is not a sentinel", &Error{Kind: KindDownstream, Message: "x"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := errors.Is(e, c.target); got != c.want {
				t.Errorf("errors.Is = %v, want %v", got, c.want)
			}
		})
	}
	if !errors.Is(fmt.Errorf("sync: %w", e), ErrDownstream) {
		t.Error("a wrapped *Error does not match its sentinel")
	}
}

func TestFromStatus_foreignCodesMapToKinds(t *testing.T) {
	cases := []struct {
		code codes.Code
		want ErrorKind
	}{
		{codes.InvalidArgument, KindConfig},
		{codes.Unauthenticated, KindAuth},
		{codes.PermissionDenied, KindAuth},
		{codes.Unavailable, KindRetryable},
		{codes.ResourceExhausted, KindRetryable},
		{codes.Aborted, KindRetryable},
		{codes.FailedPrecondition, KindPermanent},
		{codes.NotFound, KindNotFound},
		{codes.Unimplemented, KindUnimplemented},
		{codes.Unknown, KindInternal},
		{codes.DataLoss, KindInternal},
	}
	for _, c := range cases {
		t.Run(c.code.String(), func(t *testing.T) {
			var e *Error
			if err := FromStatus(status.Error(c.code, "m")); !errors.As(err, &e) || e.Kind != c.want || e.Message != "m" {
				t.Errorf("FromStatus = %v, want kind %s", err, c.want)
			}
		})
	}
	if FromStatus(nil) != nil {
		t.Error("FromStatus(nil) != nil")
	}
	plain := errors.New("not a status")
	if FromStatus(plain) != plain {
		t.Error("a non-status error must come back as is")
	}
}

func TestToStatus_roundTripsEveryKind(t *testing.T) {
	for kind := range kindCodes {
		t.Run(string(kind), func(t *testing.T) {
			in := &Error{Kind: kind, Message: "m", Field: "/f", RetryAfter: time.Second}
			st := toStatus(in, noRedact)
			if c := status.Code(st); c != kindCodes[kind] {
				t.Errorf("code = %v, want %v", c, kindCodes[kind])
			}
			var out *Error
			if !errors.As(FromStatus(st), &out) || out.Kind != kind || out.Message != "m" || out.Field != "/f" || out.RetryAfter != time.Second {
				t.Errorf("round trip = %+v", out)
			}
		})
	}
	if toStatus(nil, noRedact) != nil {
		t.Error("toStatus(nil) != nil")
	}
}

func TestToStatus_contextErrorsKeepTheirCodes(t *testing.T) {
	cases := []struct {
		err  error
		code codes.Code
		is   error
	}{
		{context.Canceled, codes.Canceled, context.Canceled},
		{fmt.Errorf("poll: %w", context.DeadlineExceeded), codes.DeadlineExceeded, context.DeadlineExceeded},
		{DownstreamError(context.Canceled, "page"), codes.Canceled, context.Canceled},
	}
	for _, c := range cases {
		st := toStatus(c.err, noRedact)
		if status.Code(st) != c.code || !errors.Is(FromStatus(st), c.is) {
			t.Errorf("%v: code %v, back %v", c.err, status.Code(st), FromStatus(st))
		}
	}
}

func TestRedactWith_replacesLongestFirst(t *testing.T) {
	cases := []struct {
		name    string
		secrets map[string]string
		in      string
		want    string
	}{
		{"plain", map[string]string{"a": "s3cret-value"}, "token=s3cret-value;", "token=[REDACTED];"},
		{"every occurrence", map[string]string{"a": "abcd"}, "abcd abcd", "[REDACTED] [REDACTED]"},
		{"longest first", map[string]string{"short": "abcd", "long": "abcdefgh"}, "x abcdefgh y abcd", "x [REDACTED] y [REDACTED]"},
		{"short secrets are left alone", map[string]string{"pin": "123"}, "call 123", "call 123"},
		{"empty secret", map[string]string{"x": ""}, "text", "text"},
		{"no secrets", nil, "text", "text"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := redactWith(secretValues(c.secrets))(c.in); got != c.want {
				t.Errorf("redact(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestMergeSecrets_putsSecretsIntoTheObject(t *testing.T) {
	cases := []struct {
		name    string
		config  string
		secrets map[string]string
		want    string // JSON, compared semantically; "" : error
	}{
		{"no secrets keeps config", `{"a": 1}`, nil, `{"a": 1}`},
		{"empty config", ``, nil, `{}`},
		{"blank config with secret", "  \n", map[string]string{"k": "v"}, `{"k": "v"}`},
		{"null config with secret", `null`, map[string]string{"k": "v"}, `{"k": "v"}`},
		{"secret overrides", `{"k": "plain", "a": [1]}`, map[string]string{"k": "v"}, `{"k": "v", "a": [1]}`},
		{"secret is escaped", `{}`, map[string]string{"k": "a\"b\\c\n"}, `{"k": "a\"b\\c\n"}`},
		{"array config", `[1]`, map[string]string{"k": "v"}, ""},
		{"invalid JSON", `{"a":`, map[string]string{"k": "v"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := mergeSecrets([]byte(c.config), c.secrets)
			if c.want == "" {
				if err == nil || !strings.Contains(err.Error(), "must be a JSON object") {
					t.Errorf("mergeSecrets = %s, %v, want an error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(got, []byte(c.want)) {
				t.Errorf("merged = %s, want %s", got, c.want)
			}
		})
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

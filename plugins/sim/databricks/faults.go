package databrickssim

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FaultKind is what an injected fault does to a request.
type FaultKind int

const (
	// RateLimited answers 429 REQUEST_LIMIT_EXCEEDED (the vendor's body),
	// with Retry-After when Fault.RetryAfter is set.
	RateLimited FaultKind = iota + 1
	// Unavailable answers 503 TEMPORARILY_UNAVAILABLE, with Retry-After
	// when Fault.RetryAfter is set.
	Unavailable
	// InternalError answers 500 INTERNAL_ERROR.
	InternalError
	// Malformed answers 200 with a JSON body cut short, as a broken gateway
	// does. It only hits answers that would have been 200.
	Malformed
	// ExpireTokens makes every issued OAuth token expire just before the
	// request is authenticated: the request answers 401 unless it comes
	// with a personal access token.
	ExpireTokens
)

// Fault is one injected failure. It hits the requests matching Path, after
// letting After of them through, Times times (default once).
type Fault struct {
	Kind FaultKind
	// Path is a suffix of the request path ("runs/list", "runs/get",
	// "oidc/v1/token"). Empty matches every Jobs API request (not the token
	// endpoint).
	Path string
	// After is how many matching requests pass untouched first.
	After int
	// Times is how many matching requests the fault hits (default 1).
	Times int
	// RetryAfter, for RateLimited and Unavailable, is sent as the
	// Retry-After header (whole seconds; 0: no header).
	RetryAfter time.Duration
}

// Inject adds a fault. Faults are independent: each counts the requests it
// matches.
func (w *Workspace) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	w.mu.Lock()
	w.faults = append(w.faults, &f)
	w.mu.Unlock()
}

// FailNext makes the next n Jobs API requests answer status: 429
// (RateLimited), 503 (Unavailable) or any other 5xx (InternalError), with
// Retry-After when retryAfter > 0.
func (w *Workspace) FailNext(n, status int, retryAfter time.Duration) {
	kind := InternalError
	switch status {
	case http.StatusTooManyRequests:
		kind = RateLimited
	case http.StatusServiceUnavailable:
		kind = Unavailable
	}
	w.Inject(Fault{Kind: kind, Times: n, RetryAfter: retryAfter})
}

// MalformNextPage makes the next runs/list page answer malformed JSON
// after `skip` pages have been served normally.
func (w *Workspace) MalformNextPage(skip int) {
	w.Inject(Fault{Kind: Malformed, Path: "runs/list", After: skip})
}

// ExpireTokensAfter makes every issued OAuth token expire once n more Jobs
// API requests have been served: a token expiring in the middle of a sync.
func (w *Workspace) ExpireTokensAfter(n int) {
	w.Inject(Fault{Kind: ExpireTokens, After: n})
}

// SetPageOverlap makes every list page after the first start k items
// before where the previous page ended, so consecutive pages overlap (as
// when runs are inserted while a client pages). 0 turns it off.
func (w *Workspace) SetPageOverlap(k int) {
	w.mu.Lock()
	w.overlap = max(k, 0)
	w.mu.Unlock()
}

// ClearFaults removes every pending fault and the page overlap.
func (w *Workspace) ClearFaults() {
	w.mu.Lock()
	w.faults, w.overlap = nil, 0
	w.mu.Unlock()
}

func (f *Fault) matches(path string) bool {
	if f.Path == "" {
		return strings.HasPrefix(path, "/api/")
	}
	return strings.HasSuffix(path, f.Path)
}

// applyFaults runs the faults matching path: it reports whether one of
// them answered the request, and whether the answer must be malformed
// (which the handler applies to the body it produces). Runs with w.mu held.
func (w *Workspace) applyFaults(rw http.ResponseWriter, path string, now time.Time) (answered, malformed bool) {
	kept := w.faults[:0]
	for _, f := range w.faults {
		if !f.matches(path) || (answered && f.Kind != ExpireTokens) {
			kept = append(kept, f)
			continue
		}
		if f.After > 0 {
			f.After--
			kept = append(kept, f)
			continue
		}
		f.Times--
		if f.Times > 0 {
			kept = append(kept, f)
		}
		switch f.Kind {
		case ExpireTokens:
			w.expireTokens(now)
		case Malformed:
			malformed = true
		case RateLimited:
			setRetryAfter(rw, f.RetryAfter)
			body, _ := Fixture("error-rate-limited.json")
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(http.StatusTooManyRequests)
			_, _ = rw.Write(body)
			answered = true
		case Unavailable:
			setRetryAfter(rw, f.RetryAfter)
			writeError(rw, http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE", "The service is temporarily unavailable. Please try again later.")
			answered = true
		case InternalError:
			writeError(rw, http.StatusInternalServerError, "INTERNAL_ERROR", "Internal error while serving the request. Please try again.")
			answered = true
		}
	}
	w.faults = kept
	return answered, malformed
}

func setRetryAfter(rw http.ResponseWriter, d time.Duration) {
	if d > 0 {
		secs := int((d + time.Second - 1) / time.Second)
		rw.Header().Set("Retry-After", strconv.Itoa(secs))
	}
}

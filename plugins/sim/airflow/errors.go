package airflowsim

import (
	"encoding/json"
	"net/http"
)

// problem is Airflow 2's RFC 7807 error body. Its type points into the
// documentation of the installed version (the path only, as the
// fixtures keep it).
func (s *Server) problem(status int, title, detail, name string) response {
	return s.problemBody(status, title, detail, name)
}

// problemNull is a problem whose detail is null (e.g. 401 Unauthenticated).
func (s *Server) problemNull(status int, title, name string) response {
	return s.problemBody(status, title, nil, name)
}

func (s *Server) problemBody(status int, title string, detail any, name string) response {
	typ := "/docs/apache-airflow/" + s.opts.Version + "/stable-rest-api-ref.html#section/Errors/" + name
	if name == "" {
		typ = "about:blank" // connexion's own request validation
	}
	b, _ := json.Marshal(map[string]any{"detail": detail, "status": status, "title": title, "type": typ})
	return response{status: status, header: http.Header{"Content-Type": {"application/problem+json"}}, body: b}
}

// validation is one FastAPI/pydantic validation error of Airflow 3.
type validation struct {
	Type  string         `json:"type"`
	Loc   []any          `json:"loc"`
	Msg   string         `json:"msg"`
	Input any            `json:"input"`
	Ctx   map[string]any `json:"ctx,omitempty"`
}

func unprocessable(errs []validation) response {
	return jsonResponse(http.StatusUnprocessableEntity, map[string]any{"detail": errs})
}

// badRequest answers a request error in the simulator's format.
func (s *Server) badRequest(title, detail string) response {
	if s.opts.API == V1 {
		return s.problem(http.StatusBadRequest, title, detail, "BadRequest")
	}
	return jsonResponse(http.StatusBadRequest, map[string]any{"detail": detail})
}

func (s *Server) notFound(v1Title, v1Detail, v2Detail string) response {
	if s.opts.API == V1 {
		return s.problem(http.StatusNotFound, v1Title, v1Detail, "NotFound")
	}
	return jsonResponse(http.StatusNotFound, map[string]any{"detail": v2Detail})
}

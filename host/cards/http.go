package cards

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/puod/puod/host/api"
	"github.com/puod/puod/host/identity"
	"github.com/puod/puod/host/timerange"
)

// Register adds POST /api/v1/cards/query. Any member may query: a card
// reads what the member may read anyway; POST only because the options
// are a JSON object.
func (s *Service) Register(srv *api.Server) {
	srv.API().POST("/cards/query", api.Require(identity.RoleViewer), s.handleQuery)
}

type queryBody struct {
	Type      string           `json:"type"`
	Options   json.RawMessage  `json:"options"`
	TimeRange *timerange.Range `json:"time_range"`
}

func (s *Service) handleQuery(c *gin.Context) {
	var body queryBody
	if err := api.DecodeJSON(c, &body); err != nil {
		api.Fail(c, err)
		return
	}
	res, err := s.Query(c.Request.Context(), Request{Type: body.Type, Options: body.Options, TimeRange: body.TimeRange})
	if err != nil {
		api.Fail(c, err)
		return
	}
	out := res.JSON()
	// A known length spares the frame, often several KB, chunked encoding.
	c.Header("Content-Length", strconv.Itoa(len(out)))
	c.Data(http.StatusOK, "application/json; charset=utf-8", out)
}

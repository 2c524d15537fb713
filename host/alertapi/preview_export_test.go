package alertapi

import (
	"errors"

	"github.com/puod/puod/host/api"
)

// PreviewErrorStatus is the status and code the preview route answers
// err with.
func PreviewErrorStatus(err error) (int, string) {
	var e *api.Error
	if errors.As(previewError(err), &e) {
		return e.Status, e.Code
	}
	return 0, ""
}

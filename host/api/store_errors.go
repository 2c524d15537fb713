package api

import (
	"errors"
	"net/http"

	"github.com/puod/puod/host/store"
)

// storeErrors maps the store's sentinel errors. A row of another profile is
// ErrNotFound in the store, so it answers exactly like a missing one.
func storeErrors(err error) *Error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Errorf(http.StatusNotFound, CodeNotFound, "not found")
	case errors.Is(err, store.ErrConflict):
		return Errorf(http.StatusConflict, CodeConflict, "conflict: the object exists already or was changed by someone else; reload it and try again")
	case errors.Is(err, store.ErrInvalid):
		return Errorf(http.StatusBadRequest, CodeInvalid, "%s", err.Error())
	}
	return nil
}

package identity

import (
	"context"
	"errors"
	"testing"
)

func TestRole_allows(t *testing.T) {
	tests := []struct {
		have, need Role
		want       bool
	}{
		{RoleViewer, RoleViewer, true}, {RoleViewer, RoleEditor, false}, {RoleViewer, RoleAdmin, false},
		{RoleEditor, RoleViewer, true}, {RoleEditor, RoleEditor, true}, {RoleEditor, RoleAdmin, false},
		{RoleAdmin, RoleViewer, true}, {RoleAdmin, RoleEditor, true}, {RoleAdmin, RoleAdmin, true},
		// An unknown role grants nothing, and nothing satisfies an unknown need.
		{Role("root"), RoleViewer, false}, {RoleAdmin, Role("root"), false}, {Role(""), Role(""), false},
	}
	for _, tt := range tests {
		if got := tt.have.Allows(tt.need); got != tt.want {
			t.Errorf("%q.Allows(%q) = %v, want %v", tt.have, tt.need, got, tt.want)
		}
	}
}

func TestParseRole(t *testing.T) {
	if r, err := ParseRole("editor"); err != nil || r != RoleEditor {
		t.Fatalf("editor: %v %v", r, err)
	}
	if _, err := ParseRole("Admin"); err == nil {
		t.Fatal("roles are lower-case; Admin must be refused")
	}
}

func TestRequire(t *testing.T) {
	if _, err := Require(context.Background()); !errors.Is(err, ErrNoPrincipal) {
		t.Fatalf("no principal: %v", err)
	}
	if _, err := Require(With(context.Background(), Principal{UserID: "u"})); !errors.Is(err, ErrNoPrincipal) {
		t.Fatalf("a principal without a profile must not pass: %v", err)
	}
	p, err := Require(With(context.Background(), Principal{UserID: "u", ProfileID: "p", Role: RoleViewer}))
	if err != nil || p.ProfileID != "p" {
		t.Fatalf("%+v %v", p, err)
	}
}

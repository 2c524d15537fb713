package main

import (
	"errors"
	"fmt"
	"net/mail"
	"testing"

	"github.com/puod/puod/sdk"
)

func TestLedger_remembersAndForgets(t *testing.T) {
	all := []*mail.Address{{Address: "a@example.com"}, {Address: "b@example.com"}, {Address: "c@example.com"}}
	l := newLedger(3)
	if got := l.pending("n1", all); len(got) != 3 {
		t.Fatalf("a new notification has %d pending recipients, want 3", len(got))
	}
	l.record("n1", []string{"A@example.com"}, map[string]string{"b@example.com": "550 no such user"})
	if got := l.pending("n1", all); len(got) != 1 || got[0].Address != "c@example.com" {
		t.Fatalf("pending %v, want only c@ (a@ got it, case aside; b@ refused it)", got)
	}
	if err := l.outcome("n1"); err != nil {
		t.Errorf("outcome %v, want delivered: a@ got it", err)
	}

	l.record("n2", nil, map[string]string{"a@example.com": "550 x", "b@example.com": "553 y", "c@example.com": "550 z"})
	err := l.outcome("n2")
	if !errors.Is(err, sdk.ErrPermanent) {
		t.Errorf("every recipient refused: %v, want permanent", err)
	}

	// Beyond its size the oldest notification is forgotten.
	for i := range 3 {
		l.record(fmt.Sprintf("m%d", i), []string{"a@example.com"}, nil)
	}
	if got := l.pending("n1", all); len(got) != 3 {
		t.Errorf("n1 is still remembered (%d pending), want forgotten", len(got))
	}
	if got := l.pending("m2", all); len(got) != 2 {
		t.Errorf("m2 has %d pending, want 2", len(got))
	}
}

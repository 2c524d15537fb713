package main

import (
	"net/mail"
	"sort"
	"strings"
	"sync"

	"github.com/puod/puod/sdk"
)

// ledgerSize bounds how many notifications the ledger remembers: far more
// than an outbox retries at once.
const ledgerSize = 4096

// ledger remembers, per notification id, which recipients a message
// already reached and which refused it for good, in this process. A retry
// of the same notification then goes only to the recipients not served
// yet, and a retry after a lost answer sends nothing. It lives as long as
// the instance: after a plugin restart a retry sends again, with the same
// Message-ID, so receivers that de-duplicate on it drop the copy.
type ledger struct {
	mu    sync.Mutex
	max   int
	order []string // ids, oldest first
	byID  map[string]*progress
}

type progress struct {
	delivered map[string]bool
	refused   map[string]string // address → reply
}

func newLedger(max int) *ledger {
	return &ledger{max: max, byID: map[string]*progress{}}
}

func key(addr string) string { return strings.ToLower(addr) }

// pending are the recipients not yet served for id.
func (l *ledger) pending(id string, all []*mail.Address) []*mail.Address {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.byID[id]
	if p == nil {
		return all
	}
	var out []*mail.Address
	for _, a := range all {
		k := key(a.Address)
		if _, refused := p.refused[k]; !p.delivered[k] && !refused {
			out = append(out, a)
		}
	}
	return out
}

// record adds what an attempt did.
func (l *ledger) record(id string, delivered []string, refused map[string]string) {
	if len(delivered) == 0 && len(refused) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.byID[id]
	if p == nil {
		p = &progress{delivered: map[string]bool{}, refused: map[string]string{}}
		l.byID[id] = p
		l.order = append(l.order, id)
		if len(l.order) > l.max {
			delete(l.byID, l.order[0])
			l.order = l.order[1:]
		}
	}
	for _, a := range delivered {
		p.delivered[key(a)] = true
	}
	for a, r := range refused {
		p.refused[key(a)] = r
	}
}

// outcome is the answer for a notification every recipient was tried
// for: delivered when anyone got it, else permanent with the refusals.
func (l *ledger) outcome(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.byID[id]
	if p == nil || len(p.delivered) > 0 {
		return nil
	}
	addrs := make([]string, 0, len(p.refused))
	for a := range p.refused {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	parts := make([]string, len(addrs))
	for i, a := range addrs {
		parts[i] = "<" + a + "> (" + p.refused[a] + ")"
	}
	return sdk.PermanentError("the SMTP server refused every recipient: %s: check the addresses in to", strings.Join(parts, ", "))
}

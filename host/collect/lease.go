package collect

import (
	"context"
	"sync"
	"time"
)

// Leaser decides which replica polls a source: the owner of a source's
// lease polls it, the others skip it until the lease expires. A replica
// renews its leases as it polls, so ownership is sticky while it is alive
// and moves to another replica TTL after it dies.
//
// Implementations must be safe for concurrent use. LocalLeases serves one
// process; a PostgreSQL (row with an expiry, or advisory locks) or Redis
// (SET NX PX) implementation serves several replicas.
type Leaser interface {
	// Acquire makes the caller the owner of key until ttl from now, or
	// extends its ownership. It reports false, without error, when another
	// owner holds an unexpired lease.
	Acquire(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Release gives up the caller's lease of key, if it holds it.
	Release(ctx context.Context, key string) error
}

// LocalLeases is an in-process lease table: the single-process Leaser, and
// a way to test several owners in one process.
type LocalLeases struct {
	now func() time.Time

	mu     sync.Mutex
	leases map[string]localLease
}

type localLease struct {
	owner string
	until time.Time
}

// NewLocalLeases returns an empty lease table.
func NewLocalLeases() *LocalLeases {
	return &LocalLeases{now: time.Now, leases: map[string]localLease{}}
}

// Owner returns the Leaser of one owner of the table.
func (l *LocalLeases) Owner(name string) Leaser { return localOwner{l: l, name: name} }

type localOwner struct {
	l    *LocalLeases
	name string
}

func (o localOwner) Acquire(_ context.Context, key string, ttl time.Duration) (bool, error) {
	o.l.mu.Lock()
	defer o.l.mu.Unlock()
	now := o.l.now()
	if cur, ok := o.l.leases[key]; ok && cur.owner != o.name && now.Before(cur.until) {
		return false, nil
	}
	o.l.leases[key] = localLease{owner: o.name, until: now.Add(ttl)}
	return true, nil
}

func (o localOwner) Release(_ context.Context, key string) error {
	o.l.mu.Lock()
	defer o.l.mu.Unlock()
	if cur, ok := o.l.leases[key]; ok && cur.owner == o.name {
		delete(o.l.leases, key)
	}
	return nil
}

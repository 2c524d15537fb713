// Package lease gives work that only one replica may do at a time (polling
// a source, evaluating alerts) a single owner across every host replica
// that shares one Redis. Several replicas behind a load balancer then
// split the work instead of each doing all of it.
package lease

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a lease table in Redis for one owner (one host process). A
// lease is a key holding its owner's name with an expiry: the owner
// extends it while it works; when the owner dies, the key expires and
// another replica takes over.
type Redis struct {
	client *redis.Client
	owner  string
	prefix string
}

// NewRedis returns the leases of owner (unique per process) in the Redis
// at url. Keys are "<prefix>lease:<key>"; prefix defaults to "puod:".
func NewRedis(url, owner, prefix string) (*Redis, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("leases: PUOD_REDIS_URL is not a redis:// URL: %w", err)
	}
	if prefix == "" {
		prefix = "puod:"
	}
	return &Redis{client: redis.NewClient(opts), owner: owner, prefix: prefix}, nil
}

// acquire takes the lease when it is free or already ours, and (re)sets
// its expiry: one round trip, atomic on the server.
var acquire = redis.NewScript(`
local cur = redis.call("GET", KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
  return 1
end
return 0`)

// release deletes the lease only when it is still ours: an owner whose
// lease expired (and was taken over) must not delete the new owner's.
var release = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

// Acquire makes this owner the holder of key until ttl from now, or
// extends its hold. It reports false, without error, while another owner
// holds an unexpired lease.
func (r *Redis) Acquire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		return false, fmt.Errorf("lease %s: ttl %v is below 1 ms", key, ttl)
	}
	n, err := acquire.Run(ctx, r.client, []string{r.prefix + "lease:" + key}, r.owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", key, err)
	}
	return n == 1, nil
}

// Release gives up this owner's lease of key, if it holds it.
func (r *Redis) Release(ctx context.Context, key string) error {
	if err := release.Run(ctx, r.client, []string{r.prefix + "lease:" + key}, r.owner).Err(); err != nil {
		return fmt.Errorf("release lease %s: %w", key, err)
	}
	return nil
}

// Close closes the connection pool.
func (r *Redis) Close() error { return r.client.Close() }

// Package loginlimit is the users service's login rate limiter in Redis:
// failed sign-in attempts are counted per account and per client address in
// a fixed window that starts with the first failure.
package loginlimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shopgraph/shopgraph/subgraphs/users/user"
)

// Limiter is a user.LoginLimiter in Redis. Keys:
// <prefix>login:account:<account> and <prefix>login:addr:<addr>, each a
// counter that expires when its window ends.
type Limiter struct {
	rdb        *redis.Client
	prefix     string
	perAccount int
	perAddress int
	window     time.Duration
}

var _ user.LoginLimiter = (*Limiter)(nil)

// Config configures a Limiter.
type Config struct {
	Redis *redis.Client
	// Prefix starts every key.
	Prefix string
	// PerAccount and PerAddress are how many failed attempts are allowed per
	// account and per client address within Window.
	PerAccount, PerAddress int
	Window                 time.Duration
}

// New returns a Limiter.
func New(c Config) (*Limiter, error) {
	if c.Redis == nil {
		return nil, errors.New("loginlimit: Redis is required")
	}
	if c.PerAccount <= 0 || c.PerAddress <= 0 || c.Window < time.Millisecond {
		return nil, errors.New("loginlimit: limits and window must be positive")
	}
	return &Limiter{rdb: c.Redis, prefix: c.Prefix, perAccount: c.PerAccount, perAddress: c.PerAddress, window: c.Window}, nil
}

// reserve checks every counter in KEYS against its limit in ARGV and, only
// if none is used up, increments them all (starting a window on a new one).
// It returns 0, or the milliseconds until the longest used-up window ends.
// Check and increment are one atomic step, so concurrent attempts cannot all
// pass the check.
var reserve = redis.NewScript(`
local window = tonumber(ARGV[#ARGV])
local wait = 0
for i, key in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= tonumber(ARGV[i]) then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('PEXPIRE', key, window)
      ttl = window
    end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, window) end
end
return 0
`)

// succeed deletes the account counter KEYS[1] and takes one attempt back
// from the address counter KEYS[2], if given.
var succeed = redis.NewScript(`
redis.call('DEL', KEYS[1])
if KEYS[2] and tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
  redis.call('DECR', KEYS[2])
end
return 0
`)

func (l *Limiter) keys(account, addr string) []string {
	keys := []string{l.prefix + "login:account:" + account}
	if addr != "" {
		keys = append(keys, l.prefix+"login:addr:"+addr)
	}
	return keys
}

// Reserve implements user.LoginLimiter.
func (l *Limiter) Reserve(ctx context.Context, account, addr string) (time.Duration, error) {
	keys := l.keys(account, addr)
	args := []any{l.perAccount}
	if addr != "" {
		args = append(args, l.perAddress)
	}
	args = append(args, l.window.Milliseconds())
	ms, err := reserve.Run(ctx, l.rdb, keys, args...).Int64()
	if err != nil {
		return 0, fmt.Errorf("login limit: %w", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Succeeded implements user.LoginLimiter.
func (l *Limiter) Succeeded(ctx context.Context, account, addr string) error {
	if err := succeed.Run(ctx, l.rdb, l.keys(account, addr)).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("login limit: %w", err)
	}
	return nil
}

// Registrations is a user.RegisterLimiter in Redis: every registration
// attempt is counted per client address, in the key
// <prefix>register:addr:<addr>, a counter that expires when its window ends.
type Registrations struct {
	rdb        *redis.Client
	prefix     string
	perAddress int
	window     time.Duration
}

var _ user.RegisterLimiter = (*Registrations)(nil)

// RegistrationsConfig configures Registrations.
type RegistrationsConfig struct {
	Redis *redis.Client
	// Prefix starts every key.
	Prefix string
	// PerAddress is how many registration attempts are allowed per client
	// address within Window.
	PerAddress int
	Window     time.Duration
}

// NewRegistrations returns a Registrations limiter.
func NewRegistrations(c RegistrationsConfig) (*Registrations, error) {
	if c.Redis == nil {
		return nil, errors.New("loginlimit: Redis is required")
	}
	if c.PerAddress <= 0 || c.Window < time.Millisecond {
		return nil, errors.New("loginlimit: registration limit and window must be positive")
	}
	return &Registrations{rdb: c.Redis, prefix: c.Prefix, perAddress: c.PerAddress, window: c.Window}, nil
}

// ReserveRegistration implements user.RegisterLimiter.
func (l *Registrations) ReserveRegistration(ctx context.Context, addr string) (time.Duration, error) {
	if addr == "" {
		return 0, nil
	}
	ms, err := reserve.Run(ctx, l.rdb, []string{l.prefix + "register:addr:" + addr}, l.perAddress, l.window.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("registration limit: %w", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

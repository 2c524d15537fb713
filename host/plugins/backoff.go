package plugins

import "time"

// backoffDelay is the restart delay after attempt earlier failures:
// initial doubling up to max, then moved by jitter (in [-1, 1)) times 20%,
// so plugins that crashed together do not restart in lockstep.
func backoffDelay(attempt int, initial, max time.Duration, jitter float64) time.Duration {
	d := initial
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d + time.Duration(float64(d)*0.2*jitter)
}

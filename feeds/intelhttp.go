package feeds

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/bulwark-dns/bulwark/internal/clock"
)

// intelClient makes the requests of the TAXII and MISP API sources: the
// list's headers and credentials, Bulwark's User-Agent and redirect policy
// (httpSource.checkRedirect), a size budget shared by every request of one
// fetch, and 429/503 answers retried after their Retry-After.
type intelClient struct {
	src *httpSource // client, headers, User-Agent, redirect policy
	// auth adds the source's credentials (nil: none).
	auth func(*http.Request) error
	// sleep waits d or until ctx is done; a test hook.
	sleep func(ctx context.Context, d time.Duration) error
}

// Bounds of Retry-After handling: a server asking for more than
// maxRetryAfter is not waited for (the next refresh will try again), nor
// one that keeps answering 429.
const (
	maxRetryAfter   = 5 * time.Minute
	maxBusyRetries  = 3
	defaultRetryGap = 5 * time.Second // a 429 without Retry-After
)

func newIntelClient(raw string, sp *feedSpec, env specEnv) *intelClient {
	return &intelClient{
		src: &httpSource{url: raw, shown: redactURL(raw), client: env.client, userAgent: env.userAgent,
			headers: sp.cfg.Headers, baseDir: env.baseDir, maxSize: sp.maxSize},
		sleep: clock.Sleep,
	}
}

// budget is what a fetch may still read, across its requests (max_size).
type budget struct{ left, max int64 }

func newBudget(max int64) *budget {
	if max <= 0 {
		max = DefaultMaxSize
	}
	return &budget{left: max, max: max}
}

// do sends one request and reads the whole answer; any status but 2xx is
// an error naming it. body may be nil.
func (c *intelClient) do(ctx context.Context, method, target string, body []byte, accept string, b *budget) (*http.Response, []byte, error) {
	shown := redactURL(target)
	if c.src.client == nil {
		return nil, nil, fmt.Errorf("%s %s: no HTTP client (offline)", method, shown)
	}
	for try := 0; ; try++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := c.src.newRequest(ctx, method, target, shown, rd)
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Accept", accept)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.auth != nil {
			if err := c.auth(req); err != nil {
				return nil, nil, fmt.Errorf("%s %s: %w", method, shown, err)
			}
		}
		resp, err := c.src.do(req, shown)
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			resp.Body.Close()
			wait, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now())
			if !ok {
				wait = defaultRetryGap
			}
			switch {
			case try >= maxBusyRetries:
				return nil, nil, fmt.Errorf("%s %s: HTTP %s after %d retries", method, shown, resp.Status, try)
			case wait > maxRetryAfter:
				return nil, nil, fmt.Errorf("%s %s: HTTP %s, Retry-After %s is longer than %s; trying again at the next refresh", method, shown, resp.Status, wait, maxRetryAfter)
			}
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
				return nil, nil, fmt.Errorf("%s %s: HTTP %s, Retry-After %s is past the list's timeout", method, shown, resp.Status, wait)
			}
			if err := c.sleep(ctx, wait); err != nil {
				return nil, nil, fmt.Errorf("%s %s: waiting for Retry-After: %w", method, shown, err)
			}
			continue
		}
		defer resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			hint := ""
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
				hint = " (check the list's credentials)"
			}
			return resp, nil, fmt.Errorf("%s %s: HTTP %s%s", method, shown, resp.Status, hint)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, b.left+1))
		if err != nil {
			return resp, nil, fmt.Errorf("%s %s: %w", method, shown, err)
		}
		b.left -= int64(len(data))
		if b.left < 0 {
			return resp, nil, fmt.Errorf("%s %s: the answers are more than max_size %s", method, shown, ByteSize(b.max))
		}
		return resp, data, nil
	}
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

package server

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ruhu-dev/ruhu/syncengine"
)

func (s *Server) handlePush(c *fiber.Ctx) error {
	start := time.Now()
	// A full write queue refuses the push before its body is unpacked:
	// the tablet comes back when the queue has drained, and the pushes
	// already admitted do not wait on decoding that would be thrown away.
	if wait, busy := s.core.PushBusy(callerOf(c)); busy {
		return retryLater(c, wait)
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	env, err := pushEnvelope(c, body)
	if err != nil {
		return err
	}
	var req syncengine.PushRequest
	if err := decodePushBody(body, &req); err != nil {
		return err
	}
	res, err := s.core.PushSigned(c.UserContext(), callerOf(c), req.Ops, env)
	if wait, busy := syncengine.RetryAfter(err); busy {
		return retryLater(c, wait)
	}
	if err != nil {
		return err
	}
	resp := syncengine.PushResponse{Acked: res.Acked, Rejected: res.Rejected, Flagged: res.Flagged,
		ServerTime: s.cfg.Now().UnixMilli()}
	s.metrics.opsApplied.Add(float64(len(res.Acked)))
	for _, r := range resp.Rejected {
		s.metrics.opsRejected.WithLabelValues(r.Code).Inc()
	}
	s.metrics.conflicts.Add(float64(res.Conflicts))
	s.metrics.pushSeconds.Observe(time.Since(start).Seconds())
	return c.JSON(resp)
}

func (s *Server) handlePull(c *fiber.Ctx) error {
	start := time.Now()
	limit := 0
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > syncengine.MaxPullLimit {
			return errInvalid("limit must be 1 to %d", syncengine.MaxPullLimit)
		}
		limit = n
	}
	// The page is written by hand into the response's pooled body buffer:
	// stored records already are wire records in JSON, so they are copied
	// out of the store without being decoded and encoded again.
	resp := c.Response()
	resp.ResetBody()
	resp.AppendBodyString(`{"records":[`)
	n := 0
	page, err := s.core.Pull(c.UserContext(), callerOf(c), c.Query("cursor"), limit, func(raw []byte) {
		if n > 0 {
			resp.AppendBodyString(",")
		}
		resp.AppendBody(raw)
		n++
	})
	if err != nil {
		resp.ResetBody()
		return err
	}
	// The cursor is base64url: nothing in it needs JSON escaping.
	tail := make([]byte, 0, 128)
	tail = append(tail, `],"cursor":"`...)
	tail = append(tail, page.Cursor...)
	tail = append(tail, `","more":`...)
	tail = strconv.AppendBool(tail, page.More)
	tail = append(tail, `,"reset":`...)
	tail = strconv.AppendBool(tail, page.Reset)
	tail = append(tail, `,"server_time":`...)
	tail = strconv.AppendInt(tail, s.cfg.Now().UnixMilli(), 10)
	resp.AppendBody(append(tail, '}'))
	s.metrics.pullSeconds.Observe(time.Since(start).Seconds())
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return nil
}

// retryLater answers 503 ETRANSIENT with the wait in Retry-After (whole
// seconds, rounded up) and in milliseconds (syncengine.RetryAfterHeader).
func retryLater(c *fiber.Ctx, wait time.Duration) error {
	c.Set(fiber.HeaderRetryAfter, strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
	c.Set(syncengine.RetryAfterHeader, strconv.FormatInt(wait.Milliseconds(), 10))
	return syncengine.Errorf(syncengine.ETRANSIENT, "服务器繁忙，请%d毫秒后重试", wait.Milliseconds())
}

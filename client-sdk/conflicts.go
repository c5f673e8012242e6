package client

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

// Conflict is a field of one record that two writers changed from the
// same version, as the server keeps it until a township or county user
// decides (GET /v1/conflicts).
type Conflict struct {
	ID         string    `json:"id"`
	Collection string    `json:"collection"`
	RecordID   string    `json:"record_id"`
	Area       string    `json:"area"`
	Field      string    `json:"field"`
	Status     string    `json:"status"` // open or resolved
	OpenedAt   time.Time `json:"opened_at"`
	// Candidates are the competing values, the merge winner (the value
	// every copy holds until someone decides) first.
	Candidates []ConflictCandidate `json:"candidates"`
	Resolution *ConflictResolution `json:"resolution,omitempty"`
}

// ConflictCandidate is one competing value and who wrote it where.
type ConflictCandidate struct {
	Value  json.RawMessage `json:"value"`
	Author string          `json:"author"`
	Device string          `json:"device"`
	OpID   string          `json:"op_id"`
	Time   time.Time       `json:"time"`
	Winner bool            `json:"winner"`
	// Mine is set by MyConflicts: written by this tablet, or by its user
	// on another device.
	Mine bool `json:"-"`
}

// ConflictResolution is the decision on a resolved conflict.
type ConflictResolution struct {
	By    string          `json:"by"`
	At    time.Time       `json:"at"`
	Value json.RawMessage `json:"value"`
	OpID  string          `json:"op_id"`
	Note  string          `json:"note"`
}

// MyConflicts asks the server for the conflicts in the user's scope, open
// and resolved, and returns those with a candidate written by this tablet
// or by its logged-in user (Mine marks which), open ones first, then the
// newest. It needs the network: one request, the access token refreshed
// once if it expired, no retries — a sync screen asks again later.
//
// Codes: EUNAUTHORIZED (not enrolled, or the login expired), ETRANSIENT
// (no network), EREVOKED.
func (c *Client) MyConflicts(ctx context.Context) ([]Conflict, error) {
	server, err := c.enrolledServer()
	if err != nil {
		return nil, err
	}
	st, err := c.Status()
	if err != nil {
		return nil, err
	}
	tr := c.transport(server, nil)
	var resp struct {
		Conflicts []Conflict `json:"conflicts"`
	}
	get := func() error { return tr.do(ctx, "GET", "/v1/conflicts?status=all", nil, &resp) }
	used := c.accessToken()
	err = get()
	if isCode(err, syncengine.EUNAUTHORIZED) {
		if c.accessToken() == used {
			err = c.refresh(ctx, tr)
		} else {
			err = nil
		}
		if err == nil {
			err = get()
		}
	}
	if err != nil {
		return nil, c.afterAuthError(err)
	}
	var out []Conflict
	for _, cf := range resp.Conflicts {
		mine := false
		for i, cand := range cf.Candidates {
			cf.Candidates[i].Mine = (st.DeviceID != "" && cand.Device == st.DeviceID) || (st.User != "" && cand.Author == st.User)
			mine = mine || cf.Candidates[i].Mine
		}
		if mine {
			out = append(out, cf)
		}
	}
	sortConflicts(out)
	return out, nil
}

// sortConflicts orders open conflicts before resolved ones, newest first
// within each.
func sortConflicts(cfs []Conflict) {
	slices.SortStableFunc(cfs, func(a, b Conflict) int {
		if ao, bo := a.Status == syncengine.ConflictOpen, b.Status == syncengine.ConflictOpen; ao != bo {
			if ao {
				return -1
			}
			return 1
		}
		return b.OpenedAt.Compare(a.OpenedAt)
	})
}

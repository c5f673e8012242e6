package pouchpeer

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	gojson "github.com/goccy/go-json"
)

// Doc is one document with its one revision, as a replicator carries it
// from a source that made it.
type Doc struct {
	ID  string
	Rev string // "1-<hash>"
	// Body is the JSON object sent to the peer: the fields and _id, _rev
	// and _revisions.
	Body json.RawMessage
}

// ErrReplication is returned when the peer answers a replication step
// with something a replicator cannot go on from: an error status, a
// document it rejected, fewer documents than asked for.
var ErrReplication = errors.New("replication")

// Client replicates to and from one database of a peer over keep-alive
// HTTP; responses come gzipped (Go's transport asks for gzip and inflates).
type Client struct {
	// DB is the database's URL: the peer's URL, a slash and its name.
	DB   string
	HTTP *http.Client
	// ID names the replication: its checkpoint is the peer's document
	// _local/ID, as a CouchDB replicator keeps it.
	ID string
}

// PushBatch is one batch of a push, encoded before the timing starts as
// the source's CPU encodes it: the _revs_diff and _bulk_docs bodies,
// gzipped.
type PushBatch struct {
	revsDiff []byte
	bulkDocs []byte
	docs     int
}

// PreparePush encodes docs into batches of at most size documents.
func PreparePush(docs []Doc, size int) ([]PushBatch, error) {
	var out []PushBatch
	for i := 0; i < len(docs); i += size {
		part := docs[i:min(i+size, len(docs))]
		diff := make(map[string][]string, len(part))
		bodies := make([]json.RawMessage, len(part))
		for j, d := range part {
			diff[d.ID] = []string{d.Rev}
			bodies[j] = d.Body
		}
		rawDiff, err := json.Marshal(diff)
		if err != nil {
			return nil, fmt.Errorf("revs_diff body: %w", err)
		}
		rawDocs, err := json.Marshal(struct {
			Docs     []json.RawMessage `json:"docs"`
			NewEdits bool              `json:"new_edits"`
		}{bodies, false})
		if err != nil {
			return nil, fmt.Errorf("bulk_docs body: %w", err)
		}
		out = append(out, PushBatch{revsDiff: gzipped(rawDiff), bulkDocs: gzipped(rawDocs), docs: len(part)})
	}
	return out, nil
}

func gzipped(raw []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // a valid level never fails
	_, _ = zw.Write(raw)                                     // writes to a bytes.Buffer never fail
	_ = zw.Close()
	return buf.Bytes()
}

// Push replicates the batches into the database as a replicator does: the
// database's info and the checkpoint first, then for each batch
// _revs_diff (every document must be missing: the database starts empty),
// _bulk_docs with new_edits=false, and the checkpoint.
func (c *Client) Push(ctx context.Context, batches []PushBatch) error {
	cp, err := c.startCheckpoint(ctx)
	if err != nil {
		return err
	}
	sent := 0
	for _, b := range batches {
		var missing map[string]struct {
			Missing []string `json:"missing"`
		}
		if err := c.do(ctx, "POST", "/_revs_diff", b.revsDiff, http.StatusOK, &missing); err != nil {
			return err
		}
		if len(missing) != b.docs {
			return fmt.Errorf("%w: _revs_diff says %d of %d documents are missing", ErrReplication, len(missing), b.docs)
		}
		var errs []struct {
			ID     string `json:"id"`
			Error  string `json:"error"`
			Reason string `json:"reason"`
		}
		if err := c.do(ctx, "POST", "/_bulk_docs", b.bulkDocs, http.StatusCreated, &errs); err != nil {
			return err
		}
		if len(errs) > 0 {
			return fmt.Errorf("%w: _bulk_docs refused %d documents, first %s: %s %s", ErrReplication, len(errs), errs[0].ID, errs[0].Error, errs[0].Reason)
		}
		sent += b.docs
		if err := cp.save(ctx, c, strconv.Itoa(sent)); err != nil {
			return err
		}
	}
	return nil
}

// Pull reads every change of the database as a replicator does: the
// database's info and the checkpoint, then _changes (style=all_docs,
// limit documents a batch), _bulk_get (revs=true, latest=true) of those
// revisions, and the checkpoint, until a batch comes back short. Each
// document is decoded (goccy/go-json, as ruhu's SDK decodes its pull) and
// handed to each when it is not nil. It returns how many documents came.
func (c *Client) Pull(ctx context.Context, limit int, each func(doc map[string]json.RawMessage) error) (int, error) {
	cp, err := c.startCheckpoint(ctx)
	if err != nil {
		return 0, err
	}
	since, total := json.RawMessage("0"), 0
	for {
		var changes struct {
			Results []struct {
				ID      string `json:"id"`
				Changes []struct {
					Rev string `json:"rev"`
				} `json:"changes"`
			} `json:"results"`
			LastSeq json.RawMessage `json:"last_seq"`
		}
		path := "/_changes?style=all_docs&limit=" + strconv.Itoa(limit) + "&since=" + url.QueryEscape(string(since))
		if err := c.do(ctx, "GET", path, nil, http.StatusOK, &changes); err != nil {
			return total, err
		}
		if len(changes.Results) > 0 {
			type wanted struct {
				ID  string `json:"id"`
				Rev string `json:"rev"`
			}
			var ask struct {
				Docs []wanted `json:"docs"`
			}
			for _, ch := range changes.Results {
				for _, r := range ch.Changes {
					ask.Docs = append(ask.Docs, wanted{ch.ID, r.Rev})
				}
			}
			body, err := json.Marshal(ask)
			if err != nil {
				return total, fmt.Errorf("bulk_get body: %w", err)
			}
			var got struct {
				Results []struct {
					ID   string `json:"id"`
					Docs []struct {
						OK    map[string]json.RawMessage `json:"ok"`
						Error json.RawMessage            `json:"error"`
					} `json:"docs"`
				} `json:"results"`
			}
			if err := c.do(ctx, "POST", "/_bulk_get?revs=true&latest=true", body, http.StatusOK, &got); err != nil {
				return total, err
			}
			n := 0
			for _, r := range got.Results {
				for _, d := range r.Docs {
					if d.OK == nil {
						return total, fmt.Errorf("%w: _bulk_get of %s: %s", ErrReplication, r.ID, d.Error)
					}
					if each != nil {
						if err := each(d.OK); err != nil {
							return total, err
						}
					}
					n++
				}
			}
			if n != len(ask.Docs) {
				return total, fmt.Errorf("%w: _bulk_get returned %d of %d revisions", ErrReplication, n, len(ask.Docs))
			}
			total += n
			since = changes.LastSeq
			if err := cp.save(ctx, c, string(since)); err != nil {
				return total, err
			}
		}
		if len(changes.Results) < limit {
			return total, nil
		}
	}
}

// checkpoint is the replication's _local document on the peer.
type checkpoint struct {
	rev string
}

// startCheckpoint does what a replicator does before the first batch:
// reads the database's info and its checkpoint (missing on a first run).
func (c *Client) startCheckpoint(ctx context.Context) (*checkpoint, error) {
	var info struct {
		DBName string `json:"db_name"`
	}
	if err := c.do(ctx, "GET", "", nil, http.StatusOK, &info); err != nil {
		return nil, err
	}
	var doc struct {
		Rev string `json:"_rev"`
	}
	err := c.do(ctx, "GET", "/_local/"+c.ID, nil, http.StatusOK, &doc)
	var status *statusError
	if errors.As(err, &status) && status.code == http.StatusNotFound {
		return &checkpoint{}, nil
	}
	if err != nil {
		return nil, err
	}
	return &checkpoint{rev: doc.Rev}, nil
}

// save writes the checkpoint with the last sequence replicated.
func (cp *checkpoint) save(ctx context.Context, c *Client, lastSeq string) error {
	doc := map[string]any{"_id": "_local/" + c.ID, "last_seq": lastSeq, "session_id": c.ID}
	if cp.rev != "" {
		doc["_rev"] = cp.rev
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("checkpoint body: %w", err)
	}
	var ok struct {
		Rev string `json:"rev"`
	}
	if err := c.do(ctx, "PUT", "/_local/"+c.ID, body, http.StatusCreated, &ok); err != nil {
		return err
	}
	cp.rev = ok.Rev
	return nil
}

// statusError is an answer with a status other than the one expected.
type statusError struct {
	method, path string
	code         int
	body         []byte
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.code, e.body)
}

func (e *statusError) Unwrap() error { return ErrReplication }

// do sends one request to the database (body gzipped when it starts with
// gzip's magic bytes) and decodes a JSON answer of status want into out.
func (c *Client) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.DB+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		if len(body) > 2 && body[0] == 0x1f && body[1] == 0x8b {
			req.Header.Set("Content-Encoding", "gzip")
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return &statusError{method: method, path: path, code: resp.StatusCode, body: raw}
	}
	if err := gojson.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// CreateDB creates the database name on the peer at base and returns a
// client for it.
func CreateDB(ctx context.Context, hc *http.Client, base, name, replicationID string) (*Client, error) {
	c := &Client{DB: base + "/" + url.PathEscape(name), HTTP: hc, ID: replicationID}
	var ok struct {
		OK bool `json:"ok"`
	}
	if err := c.do(ctx, "PUT", "", nil, http.StatusCreated, &ok); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	return c, nil
}

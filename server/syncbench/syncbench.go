// Package syncbench measures the sync path end to end over loopback HTTP
// with a real bbolt file (fsync on), or one PostgreSQL database under one
// or more server instances: pushes and pulls of ops shaped like
// real visits, a crowd of tablets pushing at once, and an empty incremental
// pull on a store of a million records. `ruhu bench sync` prints its
// figures as one JSON object.
package syncbench

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/ruhu-dev/ruhu/collection"
	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// Options size the benchmark; zero values mean the figures of the issue.
type Options struct {
	Dir             string // working folder (required)
	PushOps         int    // ops pushed by one tablet (10,000)
	Tablets         int    // tablets pushing at once (100)
	OpsPerTablet    int    // ops each of them pushes (1,000)
	BigStoreRecords int    // records in the store for the empty pull (1,000,000; DefaultPostgresBigStoreRecords on PostgreSQL)
	// Store is a postgres:// URL whose server the run makes fresh
	// databases on (dropped at the end); empty runs on bbolt files in Dir.
	Store string
	// Instances is how many servers share the store (1); tablets send
	// each request to the next one, round-robin. More than one needs
	// PostgreSQL.
	Instances int
	// DatabasePrefix names the PostgreSQL databases the run makes (default
	// ruhu_bench_ and a random suffix): a test sets its own to find what
	// the run left behind while other runs share the server.
	DatabasePrefix string
	Log            io.Writer
}

func (o *Options) defaults() {
	if o.PushOps == 0 {
		o.PushOps = 10000
	}
	if o.Tablets == 0 {
		o.Tablets = 100
	}
	if o.OpsPerTablet == 0 {
		o.OpsPerTablet = 1000
	}
	if o.BigStoreRecords == 0 {
		o.BigStoreRecords = 1000000
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Result holds the figures; JSON keys are the ones the issue names.
type Result struct {
	Push10kS          float64 `json:"push_10k_s"`
	Pull10kS          float64 `json:"pull_10k_s"`
	ConcurrentOpsPerS float64 `json:"concurrent_ops_per_s"`
	ConcurrentP99Ms   float64 `json:"concurrent_p99_ms"` // of the push requests the server took
	// ConcurrentBusy counts the pushes refused with a retry-after (the
	// write queue was full); each was sent again after the wait.
	ConcurrentBusy int `json:"concurrent_busy"`
	// ConcurrentBatchP99Ms is from a batch's first send to its ack, waits
	// after busy answers included.
	ConcurrentBatchP99Ms float64 `json:"concurrent_batch_p99_ms"`
	Lost                 int     `json:"lost"`
	Doubled              int     `json:"doubled"`
	EmptyPullMs          float64 `json:"empty_pull_ms"`
	WireBytesPerOp       float64 `json:"wire_bytes_per_op"`
	OpJSONBytes          float64 `json:"op_json_bytes"`
	PushOps              int     `json:"push_ops"`
	ConcurrentTablets    int     `json:"concurrent_tablets"`
	ConcurrentOps        int     `json:"concurrent_ops"`
	BigStoreRecords      int     `json:"big_store_records"`
	BigStoreLoadS        float64 `json:"big_store_load_s"`
	Store                string  `json:"store"`     // "bbolt" or "postgres"
	Instances            int     `json:"instances"` // servers sharing the store
}

const area = "340199001001"

// env is one or more running servers over one store, with tokens for
// its bench users; url, store and srv are the first instance's.
type env struct {
	url     string
	store   server.Store
	srv     *server.Server
	urls    []string // every instance's
	srvs    []*server.Server
	closers []func()
	next    *atomic.Uint64
	http    *http.Client
	tokens  map[string]string // username -> device-bound access token
	device  map[string]string // username -> device id
}

func start(path string, users []string) (*env, error) {
	return startWith(path, users, nil)
}

// startWith is start with the server over wrap(store) when wrap is set.
func startWith(path string, users []string, wrap func(server.Store) server.Store) (*env, error) {
	return startOn(1, openBolt(path), users, wrap)
}

const benchPassword = "bench-password-1"

// enroll creates an officer assigned to its own household and enrolls a
// device for it.
func (e *env) enroll(user string) error {
	ctx := context.Background()
	app := e.srv.Core()
	if _, err := app.AddUser(ctx, core.Operator(), core.UserInput{Username: user, Password: benchPassword, Role: "officer", Scopes: []string{"340199"}}); err != nil {
		return err
	}
	hh := "h-" + user
	_, err := app.Load(ctx, []*syncengine.Op{
		{ID: "seed-h-" + user, RecordID: hh, Collection: collection.Households, Area: area, Author: "seed", Device: "seed", HLC: syncengine.MakeHLC(1, 0),
			Set: map[string]json.RawMessage{"head_name": json.RawMessage(`"张建国"`), "status": json.RawMessage(`{"value":"exited","year":2019}`), "primary_cause": json.RawMessage(`"illness"`)}},
		{ID: "seed-a-" + user, RecordID: "a-" + user, Collection: collection.Assignments, Area: area, Author: "seed", Device: "seed", HLC: syncengine.MakeHLC(2, 0),
			Set: map[string]json.RawMessage{"officer": mustJSON(user), "household_id": mustJSON(hh), "active": json.RawMessage(`true`)}},
	})
	if err != nil {
		return err
	}
	var login struct {
		AccessToken string `json:"access_token"`
	}
	if err := e.call("POST", "/v1/auth/login", "", map[string]string{"username": user, "password": benchPassword}, &login); err != nil {
		return err
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	var enr struct {
		AccessToken string `json:"access_token"`
		DeviceID    string `json:"device_id"`
	}
	if err := e.call("POST", "/v1/devices", login.AccessToken, map[string]string{"name": "bench", "public_key": base64.StdEncoding.EncodeToString(pub)}, &enr); err != nil {
		return err
	}
	e.tokens[user], e.device[user] = enr.AccessToken, enr.DeviceID
	return nil
}

func mustJSON(v any) json.RawMessage { b, _ := json.Marshal(v); return b }

func (e *env) call(method, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.base()+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, b)
	}
	if _, ok := out.(*syncengine.PullResponse); ok {
		return gojson.Unmarshal(b, out) // as client-sdk's transport does
	}
	return json.Unmarshal(b, out)
}

// visitOps makes n visit ops by user, each about 850 bytes of JSON: the
// checklist, Chinese notes, GPS and three photo sha256s.
func visitOps(user, device string, n int, seq *atomic.Int64) []syncengine.WireOp {
	ops := make([]syncengine.WireOp, n)
	base := time.Now().Add(-time.Hour)
	for i := range ops {
		k := seq.Add(1)
		var shas []string
		for j := 0; j < 3; j++ {
			s := sha256.Sum256([]byte(fmt.Sprintf("%s-%d-%d", user, k, j)))
			shas = append(shas, hex.EncodeToString(s[:]))
		}
		at := base.Add(time.Duration(k) * time.Millisecond)
		set := map[string]json.RawMessage{
			"household_id":         mustJSON("h-" + user),
			"officer":              mustJSON(user),
			"visited_at":           mustJSON(at.UTC().Format(time.RFC3339)),
			"gps":                  mustJSON(map[string]float64{"lat": 31.70512 + float64(k%100)/1e5, "lon": 117.14021, "accuracy_m": 8.5}),
			"checklist":            json.RawMessage(`{"food":"ok","clothing":"ok","education":"ok","medical":"problem","housing":"ok","drinking_water":"ok"}`),
			"notes":                mustJSON(visitNotes(k)),
			"answered_by_name":     mustJSON("张建国"),
			"answered_by_relation": mustJSON("head"),
			"photo_sha256s":        mustJSON(shas),
		}
		ops[i] = syncengine.WireOp{ID: fmt.Sprintf("op-%s-%08d", user, k), RecordID: fmt.Sprintf("v-%s-%08d", user, k), Collection: collection.Visits, Area: area,
			Author: user, Device: device, HLC: uint64(syncengine.MakeHLC(at.UnixMilli(), 0)), Set: set,
			DeviceTime: at.UnixMilli(), ServerTimeEst: at.UnixMilli()}
	}
	return ops
}

// encodeBatches gzips ops into push bodies of at most size ops each. A
// tablet does this on its own CPU, so it happens before the clock starts.
func encodeBatches(ops []syncengine.WireOp, size int) ([][]byte, error) {
	var out [][]byte
	for i := 0; i < len(ops); i += size {
		raw, err := json.Marshal(syncengine.PushRequest{Ops: ops[i:min(i+size, len(ops))], DeviceTime: time.Now().UnixMilli()})
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(raw)
		zw.Close()
		out = append(out, buf.Bytes())
	}
	return out, nil
}

// notePhrases are pieces of real-sounding visit notes; visitNotes strings
// a varying choice of them together so that gzip sees text as varied as
// officers write, not one sentence repeated (which would flatter the
// wire-bytes figure).
var notePhrases = []string{
	"户主在家，精神状态良好", "家中老人慢性病需定期复查", "已联系村医上门随访", "孩子在镇中学就读，享受两免一补",
	"饮水安全，自来水已入户", "房屋经鉴定为安全住房", "今年种植茶叶三亩，预计增收四千元", "儿子在外务工，每月寄回两千元",
	"妻子患糖尿病，已办理慢病卡", "屋顶漏雨，已上报危房改造", "低保金按时发放", "家庭医生签约已续签",
	"养殖生猪五头，防疫已完成", "小孙女入读村幼儿园", "申请公益性岗位，护林员", "新农合已缴费，报销政策已讲解",
}

func visitNotes(k int64) string {
	r := uint64(k)*0x9E3779B97F4A7C15 + 1
	parts := []string{fmt.Sprintf("第%d次走访", k%24+1)}
	for i := 0; i < 5; i++ {
		r ^= r >> 29
		r *= 0xBF58476D1CE4E5B9
		parts = append(parts, notePhrases[r%uint64(len(notePhrases))])
	}
	return strings.Join(parts, "；") + "。"
}

// push sends one gzip batch of n ops until the server takes it: a busy
// answer (503 with a retry-after) is waited out as the SDK does, the
// wait plus up to a fifth more. Each request's time goes to each (refused
// ones too, with busy set).
func (e *env) push(user string, body []byte, n int, each func(d time.Duration, busy bool)) error {
	for {
		s := time.Now()
		wait, err := e.pushOnce(user, body, n)
		if each != nil {
			each(time.Since(s), wait > 0)
		}
		if err != nil || wait == 0 {
			return err
		}
		time.Sleep(wait + mrand.N(wait/5+1))
	}
}

// pushOnce sends one gzip batch of n ops; a busy answer returns the wait
// the server asked for and no error.
func (e *env) pushOnce(user string, body []byte, n int) (time.Duration, error) {
	req, _ := http.NewRequest("POST", e.base()+"/v1/sync/push", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	resp, err := e.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode == http.StatusServiceUnavailable {
		if ms, err := strconv.ParseInt(resp.Header.Get(syncengine.RetryAfterHeader), 10, 64); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond, nil
		}
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("push: %s: %s", resp.Status, out)
	}
	return 0, checkPushResponse(out, n)
}

// checkPushResponse checks that a push answer acks all n ops.
func checkPushResponse(out []byte, n int) error {
	var pr syncengine.PushResponse
	if err := json.Unmarshal(out, &pr); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	if len(pr.Rejected) > 0 {
		return fmt.Errorf("push: %d rejected, first: %s %s", len(pr.Rejected), pr.Rejected[0].Code, pr.Rejected[0].Message)
	}
	if len(pr.Acked) != n {
		return fmt.Errorf("push: %d acked of %d", len(pr.Acked), n)
	}
	return nil
}

// pullAll pulls every page as a tablet does, decoding each as the SDK
// does (goccy/go-json).
func (e *env) pullAll(user string) (int, error) {
	cursor, total := "", 0
	for {
		var pr syncengine.PullResponse
		if err := e.call("GET", "/v1/sync/pull?limit=2000&cursor="+cursor, e.tokens[user], nil, &pr); err != nil {
			return total, err
		}
		total += len(pr.Records)
		cursor = pr.Cursor
		if !pr.More {
			return total, nil
		}
	}
}

// Run runs every measurement and returns the figures.
func Run(ctx context.Context, o Options) (*Result, error) {
	b, err := newBackend(o)
	if err != nil {
		return nil, err
	}
	defer b.close() // after the servers (deferred later) stop: drops the PostgreSQL databases
	if b.kind == "postgres" && o.BigStoreRecords == 0 {
		o.BigStoreRecords = DefaultPostgresBigStoreRecords
	}
	o.defaults()
	res := &Result{PushOps: o.PushOps, ConcurrentTablets: o.Tablets, ConcurrentOps: o.Tablets * o.OpsPerTablet, BigStoreRecords: o.BigStoreRecords,
		Store: b.kind, Instances: b.instances}
	var seq atomic.Int64

	// 1. One tablet pushes PushOps ops, then pulls them all back.
	e, err := b.start(ctx, "single", []string{"solo"})
	if err != nil {
		return nil, err
	}
	ops := visitOps("solo", e.device["solo"], o.PushOps, &seq)
	raw, _ := json.Marshal(ops[0])
	res.OpJSONBytes = float64(len(raw))
	bodies, err := encodeBatches(ops, syncengine.MaxPushOps)
	if err != nil {
		return nil, err
	}
	wire := 0
	t0 := time.Now()
	for i, b := range bodies {
		if err := e.push("solo", b, min(syncengine.MaxPushOps, len(ops)-i*syncengine.MaxPushOps), nil); err != nil {
			e.close()
			return nil, err
		}
		wire += len(b)
	}
	res.Push10kS = time.Since(t0).Seconds()
	res.WireBytesPerOp = float64(wire) / float64(len(ops))
	t0 = time.Now()
	got, err := e.pullAll("solo")
	res.Pull10kS = time.Since(t0).Seconds()
	e.close()
	if err != nil {
		return nil, err
	}
	if got < o.PushOps {
		return nil, fmt.Errorf("initial pull returned %d records, want ≥ %d", got, o.PushOps)
	}
	fmt.Fprintf(o.Log, "push %d: %.3fs, pull: %.3fs\n", o.PushOps, res.Push10kS, res.Pull10kS)

	// 2. Many tablets push at once.
	users := make([]string, o.Tablets)
	for i := range users {
		users[i] = fmt.Sprintf("t%03d", i)
	}
	e, err = b.start(ctx, "crowd", users)
	if err != nil {
		return nil, err
	}
	const batch = 100
	var mu sync.Mutex
	var lat, delivered []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	prepared := make(map[string][][]byte, len(users))
	for _, u := range users {
		if prepared[u], err = encodeBatches(visitOps(u, e.device[u], o.OpsPerTablet, &seq), batch); err != nil {
			return nil, err
		}
	}
	t0 = time.Now()
	for _, u := range users {
		wg.Add(1)
		go func(u string) {
			defer wg.Done()
			for i, body := range prepared[u] {
				s := time.Now()
				err := e.push(u, body, min(batch, o.OpsPerTablet-i*batch), func(d time.Duration, busy bool) {
					mu.Lock()
					defer mu.Unlock()
					if busy {
						res.ConcurrentBusy++
					} else {
						lat = append(lat, d)
					}
				})
				d := time.Since(s)
				mu.Lock()
				delivered = append(delivered, d)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}(u)
	}
	wg.Wait()
	wall := time.Since(t0)
	if firstErr != nil {
		e.close()
		return nil, firstErr
	}
	res.ConcurrentOpsPerS = float64(o.Tablets*o.OpsPerTablet) / wall.Seconds()
	res.ConcurrentP99Ms = p99ms(lat)
	res.ConcurrentBatchP99Ms = p99ms(delivered)
	res.Lost, res.Doubled, err = countVisits(e.store, o.Tablets*o.OpsPerTablet)
	e.close()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "crowd: %.0f ops/s, p99 %.1f ms (%d busy answers, batches delivered p99 %.1f ms)\n",
		res.ConcurrentOpsPerS, res.ConcurrentP99Ms, res.ConcurrentBusy, res.ConcurrentBatchP99Ms)

	// 3. Empty incremental pull on a big store.
	t0 = time.Now()
	startBig, err := b.load(ctx, "big", o.BigStoreRecords)
	if err != nil {
		return nil, err
	}
	res.BigStoreLoadS = time.Since(t0).Seconds()
	e, err = startBig([]string{"reader"})
	if err != nil {
		return nil, err
	}
	defer e.close()
	last, err := e.srv.Core().LastSeq(ctx)
	if err != nil {
		return nil, err
	}
	cursor := syncengine.Cursor{Epoch: e.srv.Core().Epoch(), Seq: last}.Encode()
	var times []time.Duration
	for i := 0; i < 200; i++ {
		var pr syncengine.PullResponse
		s := time.Now()
		if err := e.call("GET", "/v1/sync/pull?cursor="+cursor, e.tokens["reader"], nil, &pr); err != nil {
			return nil, err
		}
		times = append(times, time.Since(s))
		if len(pr.Records) != 0 || pr.Reset {
			return nil, fmt.Errorf("empty pull returned %d records (reset %v)", len(pr.Records), pr.Reset)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	res.EmptyPullMs = float64(times[len(times)/2].Microseconds()) / 1000
	return res, ctx.Err()
}

// p99ms is the 99th percentile of ds in milliseconds; it sorts ds.
func p99ms(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return float64(ds[(len(ds)*99)/100].Microseconds()) / 1000
}

// countVisits checks that every pushed visit is stored exactly once.
func countVisits(store core.Store, want int) (lost, doubled int, err error) {
	err = store.View(func(tx core.Tx) error {
		n := 0
		err := tx.ForEachRecord(collection.Visits, func(r *syncengine.Record) error {
			n++
			h, err := tx.History(r.Collection, r.ID)
			if err != nil {
				return err
			}
			if len(h) != 1 {
				doubled++
			}
			return nil
		})
		if n < want {
			lost = want - n
		}
		return err
	})
	return lost, doubled, err
}

// loadBig fills a store (opened with durability off: the load is setup,
// not the measurement) with n small household records through the core's
// Load, in big transactions.
func loadBig(store core.Store, n int) error {
	reg, err := schemas.New()
	if err != nil {
		return err
	}
	app := core.New(slog.New(slog.DiscardHandler), store, reg, core.Options{})
	const chunk = 20000
	for i := 0; i < n; i += chunk {
		ops := make([]*syncengine.Op, 0, chunk)
		for j := i; j < min(i+chunk, n); j++ {
			ops = append(ops, &syncengine.Op{ID: fmt.Sprintf("big-%07d", j), RecordID: fmt.Sprintf("hh-%07d", j), Collection: collection.Households,
				Area: fmt.Sprintf("340199%03d%03d", j%40, j%997%1000), Author: "seed", Device: "seed", HLC: syncengine.MakeHLC(int64(j+1), 0),
				Set: map[string]json.RawMessage{"head_name": json.RawMessage(`"王秀英"`), "status": json.RawMessage(`{"value":"exited","year":2019}`), "primary_cause": json.RawMessage(`"illness"`)}})
		}
		if _, err := app.Load(context.Background(), ops); err != nil {
			return fmt.Errorf("load big store: %w", err)
		}
	}
	return nil
}

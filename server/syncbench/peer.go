package syncbench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ruhu-dev/ruhu/server/syncbench/pouchpeer"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// PeerOptions size the comparison with the PouchDB peer; zero values mean
// the figures of the issue.
type PeerOptions struct {
	Dir     string // working folder (required)
	Modules string // node_modules holding pouchpeer.Packages (required)
	Docs    int    // visits pushed and pulled in each run (10,000)
	Runs    int    // runs of each side, alternating (3)
	// PeerBatch is the documents per _bulk_docs and per _changes page.
	// Zero gives the peer ruhu's own sizes (syncengine.MaxPushOps ops a
	// push, pullPageLimit records a pull page); 100 is PouchDB's default
	// batch_size.
	PeerBatch int
	// PeerFsync makes the peer sync every LevelDB write to disk, as ruhu's
	// bbolt store does each commit; zero is PouchDB's own default.
	PeerFsync bool
	// PeerClient is who replicates with the peer: PeerClientGo (zero) is
	// this package's replication client, PeerClientPouchDB is PouchDB's
	// own replicator under node, from and into a local PouchDB on LevelDB
	// (its CPU counts too).
	PeerClient string
	Log        io.Writer
}

// The clients that can replicate with the peer.
const (
	PeerClientGo      = "go"
	PeerClientPouchDB = "pouchdb"
)

// ErrPeerClient is returned by RunPeer for a PeerClient it does not know.
var ErrPeerClient = errors.New("peer client: want go or pouchdb")

// Spread is one figure over the runs, in seconds.
type Spread struct {
	Min    float64   `json:"min"`
	Median float64   `json:"median"`
	Runs   []float64 `json:"runs"`
}

// Ratio is how many times longer the peer took than ruhu: the medians'
// ratio and the best runs' ratio.
type Ratio struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
}

// PeerResult holds the comparison's figures; the keys say 10k, Docs says
// how many documents a run moved.
type PeerResult struct {
	PeerPush  Spread `json:"peer_push_10k_s"`
	PeerPull  Spread `json:"peer_pull_10k_s"`
	RuhuPush  Spread `json:"ruhu_push_10k_s"`
	RuhuPull  Spread `json:"ruhu_pull_10k_s"`
	PushRatio Ratio  `json:"push_ratio"`
	PullRatio Ratio  `json:"pull_ratio"`
	// The CPU seconds each side's push and pull used, the Go process
	// (client, and ruhu's server) and the node process together: steadier
	// than wall-clock on a shared machine, blind to waits on the disk.
	// Left out where /proc is missing.
	PeerPushCPU  *Spread `json:"peer_push_cpu_s,omitempty"`
	PeerPullCPU  *Spread `json:"peer_pull_cpu_s,omitempty"`
	RuhuPushCPU  *Spread `json:"ruhu_push_cpu_s,omitempty"`
	RuhuPullCPU  *Spread `json:"ruhu_pull_cpu_s,omitempty"`
	PushCPURatio *Ratio  `json:"push_cpu_ratio,omitempty"`
	PullCPURatio *Ratio  `json:"pull_cpu_ratio,omitempty"`
	Docs         int     `json:"docs"`
	Runs         int     `json:"runs"`
	// Peer names the peer and its storage; PeerFsync whether it synced
	// each write.
	Peer          string `json:"peer"`
	PeerClient    string `json:"peer_client"`
	PeerFsync     bool   `json:"peer_fsync"`
	PeerPushBatch int    `json:"peer_push_batch"`
	PeerPullBatch int    `json:"peer_pull_batch"`
	RuhuPushBatch int    `json:"ruhu_push_batch"`
	RuhuPullBatch int    `json:"ruhu_pull_batch"`
	RuhuStore     string `json:"ruhu_store"`
}

// pullPageLimit is the page size pullAll asks ruhu for.
const pullPageLimit = 2000

// ErrPeerCount is returned by RunPeer when a side moved another number
// of documents than it was given.
var ErrPeerCount = errors.New("documents lost or doubled")

// RunPeer pushes and pulls the same visits to ruhu (a bbolt file, fsync
// on) and to the PouchDB peer, alternating, Runs times each, each run on a
// fresh store, and returns the figures. Bodies are encoded and gzipped
// before each clock starts, as a tablet encodes them on its own CPU.
func RunPeer(ctx context.Context, o PeerOptions) (*PeerResult, error) {
	if o.Docs == 0 {
		o.Docs = 10000
	}
	if o.Runs == 0 {
		o.Runs = 3
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	res := &PeerResult{Docs: o.Docs, Runs: o.Runs, PeerFsync: o.PeerFsync,
		Peer:          fmt.Sprintf("pouchdb %s (leveldb) + express-pouchdb %s, node", pouchpeer.PouchDBVersion, pouchpeer.ExpressPouchDBVersion),
		PeerPushBatch: syncengine.MaxPushOps, PeerPullBatch: pullPageLimit, RuhuPushBatch: syncengine.MaxPushOps, RuhuPullBatch: pullPageLimit, RuhuStore: "bbolt"}
	if o.PeerBatch > 0 {
		res.PeerPushBatch, res.PeerPullBatch = o.PeerBatch, o.PeerBatch
	}
	switch o.PeerClient {
	case "", PeerClientGo:
		res.PeerClient = PeerClientGo
	case PeerClientPouchDB:
		res.PeerClient = PeerClientPouchDB
	default:
		return nil, fmt.Errorf("%w (got %q)", ErrPeerClient, o.PeerClient)
	}
	peerDir := filepath.Join(o.Dir, "peer")
	if err := os.MkdirAll(peerDir, 0o755); err != nil {
		return nil, err
	}
	peer, err := pouchpeer.Start(ctx, pouchpeer.Options{Modules: o.Modules, Dir: peerDir, Fsync: o.PeerFsync, Log: o.Log})
	if err != nil {
		return nil, err
	}
	defer peer.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}, Timeout: 2 * time.Minute}
	clock := phaseClock{peerPID: peer.PID()}
	var peerPush, peerPull, ruhuPush, ruhuPull []phase
	for run := 1; run <= o.Runs; run++ {
		ops, push, pull, err := ruhuRun(filepath.Join(o.Dir, "ruhu-"+strconv.Itoa(run)+".db"), o.Docs, clock)
		if err != nil {
			return nil, fmt.Errorf("ruhu run %d: %w", run, err)
		}
		ruhuPush, ruhuPull = append(ruhuPush, push), append(ruhuPull, pull)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if res.PeerClient == PeerClientPouchDB {
			push, pull, err = pouchRun(ctx, o, filepath.Join(o.Dir, "client-"+strconv.Itoa(run)), hc, peer.URL, run, ops, res.PeerPushBatch, res.PeerPullBatch, clock)
		} else {
			push, pull, err = peerRun(ctx, hc, peer.URL, run, ops, res.PeerPushBatch, res.PeerPullBatch, clock)
		}
		if err != nil {
			return nil, fmt.Errorf("peer run %d: %w", run, err)
		}
		peerPush, peerPull = append(peerPush, push), append(peerPull, pull)
		fmt.Fprintf(o.Log, "run %d: ruhu push %s pull %s; peer push %s pull %s\n", run,
			ruhuPush[run-1], ruhuPull[run-1], peerPush[run-1], peerPull[run-1])
	}
	res.PeerPush, res.PeerPull = spread(peerPush, wallOf), spread(peerPull, wallOf)
	res.RuhuPush, res.RuhuPull = spread(ruhuPush, wallOf), spread(ruhuPull, wallOf)
	res.PushRatio = ratio(res.PeerPush, res.RuhuPush)
	res.PullRatio = ratio(res.PeerPull, res.RuhuPull)
	if clock.works() {
		pp, pl, rp, rl := spread(peerPush, cpuOf), spread(peerPull, cpuOf), spread(ruhuPush, cpuOf), spread(ruhuPull, cpuOf)
		pr, lr := ratio(pp, rp), ratio(pl, rl)
		res.PeerPushCPU, res.PeerPullCPU, res.RuhuPushCPU, res.RuhuPullCPU, res.PushCPURatio, res.PullCPURatio = &pp, &pl, &rp, &rl, &pr, &lr
	}
	return res, nil
}

// ruhuRun pushes n visits from one tablet to a fresh ruhu server over a
// fresh bbolt file and pulls them all back, as Run's first stage does; it
// returns the ops, for the peer to get the same documents.
func ruhuRun(path string, n int, clock phaseClock) (ops []syncengine.WireOp, push, pull phase, err error) {
	defer os.Remove(path)
	e, err := start(path, []string{"solo"})
	if err != nil {
		return nil, phase{}, phase{}, err
	}
	defer e.close()
	var seq atomic.Int64
	ops = visitOps("solo", e.device["solo"], n, &seq)
	bodies, err := encodeBatches(ops, syncengine.MaxPushOps)
	if err != nil {
		return nil, phase{}, phase{}, err
	}
	t0 := clock.start()
	for i, b := range bodies {
		if err := e.push("solo", b, min(syncengine.MaxPushOps, n-i*syncengine.MaxPushOps), nil); err != nil {
			return nil, phase{}, phase{}, err
		}
	}
	push = clock.since(t0)
	t0 = clock.start()
	got, err := e.pullAll("solo")
	pull = clock.since(t0)
	if err != nil {
		return nil, phase{}, phase{}, err
	}
	// The pull also returns the tablet's household and assignment.
	if got != n+2 {
		return nil, phase{}, phase{}, fmt.Errorf("%w: pulled %d records, want %d visits and 2 seeded", ErrPeerCount, got, n)
	}
	return ops, push, pull, nil
}

// peerRun replicates ops, as CouchDB documents, into a fresh database of
// the peer and back out.
func peerRun(ctx context.Context, hc *http.Client, base string, run int, ops []syncengine.WireOp, pushBatch, pullBatch int, clock phaseClock) (push, pull phase, err error) {
	docs, err := couchDocs(ops)
	if err != nil {
		return phase{}, phase{}, err
	}
	batches, err := pouchpeer.PreparePush(docs, pushBatch)
	if err != nil {
		return phase{}, phase{}, err
	}
	db, err := pouchpeer.CreateDB(ctx, hc, base, "visits-"+strconv.Itoa(run), "push-"+strconv.Itoa(run))
	if err != nil {
		return phase{}, phase{}, err
	}
	t0 := clock.start()
	if err := db.Push(ctx, batches); err != nil {
		return phase{}, phase{}, err
	}
	push = clock.since(t0)
	puller := *db
	puller.ID = "pull-" + strconv.Itoa(run)
	t0 = clock.start()
	got, err := puller.Pull(ctx, pullBatch, nil)
	pull = clock.since(t0)
	if err != nil {
		return phase{}, phase{}, err
	}
	if got != len(ops) {
		return phase{}, phase{}, fmt.Errorf("%w: pulled %d documents, pushed %d", ErrPeerCount, got, len(ops))
	}
	return push, pull, nil
}

// pouchRun replicates ops, as CouchDB documents, from a local PouchDB
// into a fresh database of the peer and from there into another, empty,
// local PouchDB, with PouchDB's own replicator; the local databases are
// filled before the clock starts.
func pouchRun(ctx context.Context, o PeerOptions, dir string, hc *http.Client, base string, run int, ops []syncengine.WireOp, pushBatch, pullBatch int, clock phaseClock) (push, pull phase, err error) {
	docs, err := couchDocs(ops)
	if err != nil {
		return phase{}, phase{}, err
	}
	db, err := pouchpeer.CreateDB(ctx, hc, base, "visits-"+strconv.Itoa(run), "check-"+strconv.Itoa(run))
	if err != nil {
		return phase{}, phase{}, err
	}
	replicate := func(d pouchpeer.Direction, docs []pouchpeer.Doc, batch int) (phase, error) {
		work := filepath.Join(dir, string(d))
		if err := os.MkdirAll(work, 0o755); err != nil {
			return phase{}, err
		}
		r, err := pouchpeer.StartReplicator(ctx, pouchpeer.ReplicatorOptions{Modules: o.Modules, Dir: work, Direction: d, RemoteDB: db.DB, Docs: docs, Batch: batch, Log: o.Log})
		if err != nil {
			return phase{}, err
		}
		t0 := clock.start(r.PID())
		written, err := r.Run()
		took := clock.since(t0)
		if err != nil {
			return phase{}, err
		}
		if written != len(ops) {
			return phase{}, fmt.Errorf("%w: PouchDB's %s wrote %d documents, want %d", ErrPeerCount, d, written, len(ops))
		}
		return took, nil
	}
	if push, err = replicate(pouchpeer.Push, docs, pushBatch); err != nil {
		return phase{}, phase{}, err
	}
	if pull, err = replicate(pouchpeer.Pull, nil, pullBatch); err != nil {
		return phase{}, phase{}, err
	}
	return push, pull, nil
}

// couchDocs turns visit ops into the documents an offline-first app on
// PouchDB would keep: the op's fields at the top level beside its
// metadata, one revision each (its hash is the content's, as PouchDB
// makes revision ids from content).
func couchDocs(ops []syncengine.WireOp) ([]pouchpeer.Doc, error) {
	docs := make([]pouchpeer.Doc, len(ops))
	for i, op := range ops {
		fields := make(map[string]any, len(op.Set)+10)
		for k, v := range op.Set {
			fields[k] = v
		}
		fields["_id"], fields["type"], fields["area"] = op.RecordID, op.Collection, op.Area
		fields["op_id"], fields["author"], fields["device"], fields["hlc"] = op.ID, op.Author, op.Device, op.HLC
		fields["device_time"] = op.DeviceTime
		content, err := json.Marshal(fields)
		if err != nil {
			return nil, fmt.Errorf("document %s: %w", op.RecordID, err)
		}
		sum := sha256.Sum256(content)
		hash := hex.EncodeToString(sum[:16])
		fields["_rev"] = "1-" + hash
		fields["_revisions"] = map[string]any{"start": 1, "ids": []string{hash}}
		body, err := json.Marshal(fields)
		if err != nil {
			return nil, fmt.Errorf("document %s: %w", op.RecordID, err)
		}
		docs[i] = pouchpeer.Doc{ID: op.RecordID, Rev: "1-" + hash, Body: body}
	}
	return docs, nil
}

// phase is what one push or pull took: wall-clock, and CPU time of the
// Go process and the peer's together (cpu < 0 when unknown).
type phase struct {
	wall, cpu time.Duration
}

func (p phase) String() string {
	if p.cpu < 0 {
		return fmt.Sprintf("%.3fs", p.wall.Seconds())
	}
	return fmt.Sprintf("%.3fs (cpu %.2fs)", p.wall.Seconds(), p.cpu.Seconds())
}

func wallOf(p phase) float64 { return p.wall.Seconds() }
func cpuOf(p phase) float64  { return p.cpu.Seconds() }

// phaseClock reads the wall clock and the CPU time used by this process
// and the peer's.
type phaseClock struct {
	peerPID int
}

// mark is a phase's start.
type mark struct {
	at    time.Time
	cpu   time.Duration // < 0 when unknown
	extra int           // a client process counted too (0: none)
}

// cpu is the CPU time this process, the peer and the process extra (when
// not 0) have used; -1 when one cannot be read.
func (c phaseClock) cpu(extra int) time.Duration {
	pids := []int{0, c.peerPID}
	if extra != 0 {
		pids = append(pids, extra)
	}
	var sum time.Duration
	for _, pid := range pids {
		d, err := procCPU(pid)
		if err != nil {
			return -1
		}
		sum += d
	}
	return sum
}

func (c phaseClock) works() bool { return c.cpu(0) >= 0 }

// start marks a phase's start; extra is a client process to count too.
func (c phaseClock) start(extra ...int) mark {
	m := mark{}
	if len(extra) > 0 {
		m.extra = extra[0]
	}
	m.cpu, m.at = c.cpu(m.extra), time.Now()
	return m
}

// since is the phase from m to now. A client process counted at the start
// has ended and been waited for by now: its whole CPU time is in this
// process's children's time, so the difference holds what it used in the
// phase.
func (c phaseClock) since(m mark) phase {
	p := phase{wall: time.Since(m.at), cpu: -1}
	if now := c.cpu(0); now >= 0 && m.cpu >= 0 {
		p.cpu = now - m.cpu
	}
	return p
}

func spread(phases []phase, of func(phase) float64) Spread {
	runs := make([]float64, len(phases))
	for i, p := range phases {
		runs[i] = of(p)
	}
	s := append([]float64(nil), runs...)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{Min: s[0], Median: med, Runs: runs}
}

func ratio(peer, ruhu Spread) Ratio {
	if ruhu.Median == 0 || ruhu.Min == 0 {
		return Ratio{}
	}
	return Ratio{Median: peer.Median / ruhu.Median, Min: peer.Min / ruhu.Min}
}

package fieldapp

import (
	"net/http"
	"sync"
	"time"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// syncState is the sync screen's view of the sync running in the
// background: records first, then files.
type syncState struct {
	mu  sync.Mutex
	wg  sync.WaitGroup
	cur syncProgress
}

type syncProgress struct {
	Running bool   `json:"running"`
	Phase   string `json:"phase"` // records, files, done, error
	// Records: ops pushed of those queued, records pulled.
	Pushed   int `json:"pushed"`
	ToPush   int `json:"to_push"`
	Pulled   int `json:"pulled"`
	Rejected int `json:"rejected"`
	// Files: bytes and items of this run.
	FileBytes   int64  `json:"file_bytes"`
	FileTotal   int64  `json:"file_total"`
	FilesDone   int    `json:"files_done"`
	Files       int    `json:"files"`
	Deferred    int    `json:"deferred"`
	FailedFiles int    `json:"failed_files"`
	Unmetered   bool   `json:"unmetered"`
	Error       string `json:"error,omitempty"`
	// RecordsDone: the records phase finished, so an error came from the
	// files (the screen must not say the records failed).
	RecordsDone    bool   `json:"records_done"`
	Code           string `json:"code,omitempty"`
	Restamped      int    `json:"restamped"`
	FinishedAt     string `json:"finished_at,omitempty"`
	ClockWarning   string `json:"clock_warning,omitempty"`
	WireBytes      int64  `json:"wire_bytes"`
	MeteredDefault bool   `json:"metered_default"`
	// Waiting is what the next sync has to send, when none runs: the
	// screen says it rather than the zeros of a sync that did not happen.
	Waiting *waiting `json:"waiting,omitempty"`
}

func (s *syncState) get() syncProgress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *syncState) update(fn func(p *syncProgress)) {
	s.mu.Lock()
	fn(&s.cur)
	s.mu.Unlock()
}

func (s *syncState) wait() { s.wg.Wait() }

func (a *App) syncStatus(w http.ResponseWriter, r *http.Request) {
	p := a.sync.get()
	p.MeteredDefault = a.opts.Metered == nil || a.opts.Metered()
	if !p.Running {
		q, err := a.waitingFiles()
		if err != nil {
			a.fail(w, err)
			return
		}
		st, err := a.c.Status()
		if err != nil {
			a.fail(w, err)
			return
		}
		q.Ops = st.Pending
		p.Waiting = &q
	}
	writeJSON(w, http.StatusOK, p)
}

// startSync starts a sync unless one runs: records (push, pull), then the
// evidence files; originals too when the user said the network is not
// metered.
func (a *App) startSync(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Unmetered bool `json:"unmetered"`
	}
	if err := readJSON(r, &req); err != nil {
		a.fail(w, err)
		return
	}
	a.sync.mu.Lock()
	if a.sync.cur.Running {
		cur := a.sync.cur
		a.sync.mu.Unlock()
		writeJSON(w, http.StatusOK, cur)
		return
	}
	a.sync.cur = syncProgress{Running: true, Phase: "records", Unmetered: req.Unmetered}
	a.sync.wg.Add(1)
	a.sync.mu.Unlock()
	go a.runSync(req.Unmetered)
	writeJSON(w, http.StatusAccepted, a.sync.get())
}

func (a *App) runSync(unmetered bool) {
	defer a.sync.wg.Done()
	ctx := a.ctx
	finish := func(err error) {
		st, _ := a.c.Status()
		a.sync.update(func(p *syncProgress) {
			p.Running = false
			p.FinishedAt = time.Now().In(chinaTime).Format("15:04:05")
			p.ClockWarning = clockWarning(st)
			if p.Restamped > 0 && p.ClockWarning == "" {
				p.ClockWarning = "本机时钟超前：服务器已校正部分记录的时间，请校正平板时间"
			}
			if err != nil {
				a.log.Warn("sync failed", "err", err)
				p.Phase, p.Error, p.Code = "error", a.failureText(err), syncengine.ErrorCode(err)
				return
			}
			p.Phase = "done"
		})
	}
	rep, err := a.c.Sync(ctx, func(pr client.Progress) {
		a.sync.update(func(p *syncProgress) {
			p.WireBytes = pr.WireBytes
			if pr.Phase == client.PhasePush {
				p.Pushed, p.ToPush = pr.Done, pr.Total
			} else {
				p.Pulled = pr.Done
			}
		})
	})
	a.sync.update(func(p *syncProgress) {
		p.Pushed, p.Rejected, p.Pulled, p.Restamped = rep.Pushed, rep.Rejected, rep.Pulled, rep.Restamped
		if p.ToPush < rep.Pushed+rep.Rejected {
			p.ToPush = rep.Pushed + rep.Rejected
		}
	})
	if err != nil {
		finish(err)
		return
	}
	// The records are in: ask which of this tablet's edits the server
	// holds in conflict (a failure keeps the last list and says why).
	a.refreshConflicts(ctx)
	a.sync.update(func(p *syncProgress) { p.Phase, p.RecordsDone = "files", true })
	run := a.c.Upload
	if unmetered {
		run = a.c.UploadAll
	}
	urep, err := run(ctx, func(up client.UploadProgress) {
		a.sync.update(func(p *syncProgress) {
			p.FileBytes, p.FileTotal, p.FilesDone, p.Files = up.Done, up.Total, up.ItemsDone, up.Items
		})
	})
	a.sync.update(func(p *syncProgress) {
		p.Deferred, p.FailedFiles = urep.Deferred, urep.Failed
		p.FilesDone = urep.Uploaded
		if p.Files < urep.Uploaded+urep.Failed {
			p.Files = urep.Uploaded + urep.Failed
		}
	})
	finish(err)
}

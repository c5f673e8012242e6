package console

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/ruhu-dev/ruhu/syncengine"
)

type uploadsData struct {
	HouseholdID, CaseID string
}

// uploadsPage is the township's photo upload: the browser hashes each
// file, sends it to /v1/uploads with the vendored tus-js-client (resumable
// across a cut connection and a reload), then asks for the photos record.
func (c *Console) uploadsPage(w http.ResponseWriter, r *http.Request, rq *request) {
	q := r.URL.Query()
	c.render(w, r, http.StatusOK, "uploads", rq, "上传照片", uploadsData{HouseholdID: q.Get("household"), CaseID: q.Get("case")})
}

// uploadToken answers {"token", "area", "endpoint"} for the page's tus
// client.
func (c *Console) uploadToken(w http.ResponseWriter, r *http.Request, rq *request) {
	tok, area, err := c.backend.UploadToken(r.Context(), rq.User, strings.TrimSpace(r.PostFormValue("household_id")))
	if err != nil {
		c.failJSON(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": tok, "area": area, "endpoint": "/v1/uploads"})
}

// addPhoto creates the photos record of an uploaded blob and answers
// {"record_id"}.
func (c *Console) addPhoto(w http.ResponseWriter, r *http.Request, rq *request) {
	in := NewPhoto{HouseholdID: strings.TrimSpace(r.PostFormValue("household_id")), CaseID: strings.TrimSpace(r.PostFormValue("case_id")),
		Stage: r.PostFormValue("stage"), SHA256: strings.ToLower(r.PostFormValue("sha256"))}
	if b, err := hex.DecodeString(in.SHA256); err != nil || len(b) != 32 {
		c.failJSON(w, syncengine.Errorf(syncengine.EINVALID, "sha256 应为 64 位十六进制"))
		return
	}
	in.CapturedAt = c.opts.Now()
	if at := r.PostFormValue("captured_at"); at != "" {
		if t, err := time.Parse(time.RFC3339, at); err == nil {
			in.CapturedAt = t
		}
	}
	id, err := c.backend.AddPhoto(r.Context(), rq.User, in)
	if err != nil {
		c.failJSON(w, err)
		return
	}
	c.log.Info("console: photo record", "user", rq.User.Username, "record", id)
	writeJSON(w, http.StatusOK, map[string]string{"record_id": id})
}

// failJSON answers a script's request with the API's error body.
func (c *Console) failJSON(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch syncengine.ErrorCode(err) {
	case syncengine.ENOTFOUND:
		status = http.StatusNotFound
	case syncengine.EFORBIDDEN:
		status = http.StatusForbidden
	case syncengine.EINVALID:
		status = http.StatusBadRequest
	default:
		c.log.Error("console: request failed", "err", err)
	}
	writeJSON(w, status, map[string]string{"code": string(syncengine.ErrorCode(err)), "message": syncengine.ErrorMessage(err)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

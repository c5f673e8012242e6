package storecopy_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/server/boltstore"
	"github.com/ruhu-dev/ruhu/server/core"
	"github.com/ruhu-dev/ruhu/server/pgstore"
	"github.com/ruhu-dev/ruhu/server/pgstore/pgtest"
	"github.com/ruhu-dev/ruhu/server/storecopy"
	"github.com/ruhu-dev/ruhu/syncengine"
)

var now = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

const area = "340199001001"

func openBolt(t *testing.T) core.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "ruhu.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Core()
}

func openPG(t *testing.T) core.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), pgtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s.Core()
}

func newCore(t *testing.T, store core.Store) *core.Core {
	t.Helper()
	reg, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	return core.New(slog.New(slog.DiscardHandler), store, reg, core.Options{Now: func() time.Time { return now }})
}

func caller(t *testing.T, app *core.Core, user string) core.Caller {
	t.Helper()
	ctx := context.Background()
	ss, err := app.Login(ctx, user, "secret-password-1")
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	c, err := app.Authenticate(ctx, ss.AccessToken)
	if err != nil {
		t.Fatalf("authenticate %s: %v", user, err)
	}
	return c
}

// fill writes a small county into store through the core: two accounts,
// an enrolled tablet, households with history, two conflicts of which one
// is resolved. It returns the tablet's refresh token.
func fill(t *testing.T, store core.Store) string {
	t.Helper()
	ctx := context.Background()
	app := newCore(t, store)
	for _, u := range []core.UserInput{
		{Username: "wang", Role: "officer", Scopes: []string{"340199001"}, DisplayName: "王"},
		{Username: "township", Role: "township", Scopes: []string{"340199001"}},
	} {
		u.Password = "secret-password-1"
		if _, err := app.AddUser(ctx, core.Operator(), u); err != nil {
			t.Fatal(err)
		}
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tablet, err := app.Enroll(ctx, caller(t, app, "wang"), "王的平板", pub)
	if err != nil {
		t.Fatal(err)
	}
	var ops []*syncengine.Op
	add := func(col, id string, set map[string]any, base map[string]string) *syncengine.Op {
		fields := map[string]json.RawMessage{}
		for k, v := range set {
			b, _ := json.Marshal(v)
			fields[k] = b
		}
		op := &syncengine.Op{ID: fmt.Sprintf("op-%03d", len(ops)+1), RecordID: id, Collection: col, Area: area,
			Author: "wang", Device: "seed", HLC: syncengine.MakeHLC(now.UnixMilli()-int64(1000-len(ops)), 0),
			Set: fields, Base: base, ReceivedAt: now}
		ops = append(ops, op)
		return op
	}
	for _, h := range []string{"h1", "h2", "h3"} {
		created := add("households", h, map[string]any{"head_name": "户主" + h, "status": map[string]any{"value": "exited", "year": 2019},
			"phone": "13800000000", "primary_cause": "illness"}, nil)
		add("members", "m"+h, map[string]any{"household_id": h, "name": "户主" + h, "relation": "head"}, nil)
		if h != "h3" {
			for _, phone := range []string{"13811111111", "13822222222"} {
				add("households", h, map[string]any{"phone": phone}, map[string]string{"phone": created.ID})
			}
		}
	}
	add("households", "h3", map[string]any{"address": "桃园村1组"}, nil)
	if _, err := app.Load(ctx, ops); err != nil {
		t.Fatal(err)
	}
	town := caller(t, app, "township")
	open, err := app.Conflicts(ctx, town, core.ConflictFilter{Status: "open"})
	if err != nil || len(open) != 2 {
		t.Fatalf("conflicts %v (%v): want 2 open", open, err)
	}
	if _, err := app.Resolve(ctx, town, open[0].ID, json.RawMessage(`"13899999999"`), "入户核实"); err != nil {
		t.Fatal(err)
	}
	return tablet.RefreshToken
}

// putBlobAndUpload stores one blob's facts and one unfinished upload.
func putBlobAndUpload(t *testing.T, store core.Store) {
	t.Helper()
	err := store.UpdateSolo(func(tx core.Tx) error {
		sha := strings.Repeat("ab", 32)
		if err := tx.(core.BlobTx).PutBlob(&core.Blob{SHA256: sha, Size: 10, Kind: "photo", Status: "ready",
			Refs: []core.BlobRef{{Collection: "photos", RecordID: "p1", Area: area, UploadedBy: "wang", UploadedAt: now}}}); err != nil {
			return err
		}
		return tx.(core.UploadTx).PutUpload(&core.Upload{ID: "up1", Owner: "wang", Length: 100, Offset: 40, SHA256: strings.Repeat("cd", 32),
			Kind: "photo", Collection: "photos", RecordID: "p2", Area: area, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkSame fails unless the stores hold the same and the copy's store
// passes core.Check.
func checkSame(t *testing.T, src, dst core.Store) {
	t.Helper()
	diffs, err := storecopy.Diff(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	if err := newCore(t, dst).Check(context.Background()); err != nil {
		t.Errorf("copy fails the store check: %v", err)
	}
}

// TestCopy: a county copied into an empty store holds the same records in
// the same feed order, histories, conflicts (one resolved), accounts and
// devices, with the counts Copy reports; the tablet's refresh token works
// on the copy; a second copy into it is refused and changes nothing.
func TestCopy(t *testing.T) {
	for _, target := range []struct {
		name string
		open func(*testing.T) core.Store
	}{{"bbolt", openBolt}, {"postgres", openPG}} {
		t.Run(target.name, func(t *testing.T) {
			src, dst := openBolt(t), target.open(t)
			refresh := fill(t, src)
			n, err := storecopy.Copy(dst, src)
			if err != nil {
				t.Fatal(err)
			}
			// 11 loaded ops and the resolution's; 7 audit entries recorded by
			// fill's account, login, enrolment, load and resolution calls
			want := storecopy.Counts{Records: 6, Ops: 12, Conflicts: 2, Users: 2, Devices: 1, Audit: 7}
			if n != want {
				t.Errorf("copied %+v, want %+v", n, want)
			}
			checkSame(t, src, dst)
			if _, err := newCore(t, dst).Refresh(context.Background(), refresh); err != nil {
				t.Errorf("refresh token on the copy: %v", err)
			}

			before, err := storecopy.Count(dst)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := storecopy.Copy(dst, src); !errors.Is(err, storecopy.ErrTargetNotEmpty) {
				t.Errorf("second copy: %v, want ErrTargetNotEmpty", err)
			}
			if after, err := storecopy.Count(dst); err != nil || after != before {
				t.Errorf("refused copy changed the target: %+v then %+v (%v)", before, after, err)
			}
		})
	}
}

// TestCopyBlobsAndUploads: blob facts and unfinished uploads move with the
// rest to a store that keeps them; a store that does not is refused
// rather than losing them, and stays empty.
func TestCopyBlobsAndUploads(t *testing.T) {
	src := openBolt(t)
	fill(t, src)
	putBlobAndUpload(t, src)

	dst := openBolt(t)
	n, err := storecopy.Copy(dst, src)
	if err != nil {
		t.Fatal(err)
	}
	if n.Blobs != 1 || n.Uploads != 1 {
		t.Errorf("copied %+v, want 1 blob and 1 upload", n)
	}
	checkSame(t, src, dst)

	pg := openPG(t)
	keeps := false
	if err := pg.View(func(tx core.Tx) error {
		_, blobs := tx.(core.BlobTx)
		_, uploads := tx.(core.UploadTx)
		keeps = blobs && uploads
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = storecopy.Copy(pg, src)
	switch {
	case keeps && err != nil:
		t.Errorf("copy into a PostgreSQL store that keeps blobs and uploads: %v", err)
	case keeps:
		checkSame(t, src, pg)
	case !errors.Is(err, storecopy.ErrTargetLacks):
		t.Errorf("copy into a store without blobs: %v, want ErrTargetLacks", err)
	default:
		if c, err := storecopy.Count(pg); err != nil || c != (storecopy.Counts{}) {
			t.Errorf("refused copy left %+v (%v)", c, err)
		}
	}
}

// TestDiffFindsDifferences: Diff names a conflict resolved and a device
// revoked in one store only.
func TestDiffFindsDifferences(t *testing.T) {
	a, b := openBolt(t), openBolt(t)
	fill(t, a)
	if _, err := storecopy.Copy(b, a); err != nil {
		t.Fatal(err)
	}
	if d, err := storecopy.Diff(a, b); err != nil || len(d) != 0 {
		t.Fatalf("copies differ before the change: %v %v", d, err)
	}
	app := newCore(t, b)
	town := caller(t, app, "township")
	open, err := app.Conflicts(context.Background(), town, core.ConflictFilter{Status: "open"})
	if err != nil || len(open) != 1 {
		t.Fatalf("open conflicts %v (%v)", open, err)
	}
	if _, err := app.Resolve(context.Background(), town, open[0].ID, nil, "确认"); err != nil {
		t.Fatal(err)
	}
	devices, err := app.Devices(context.Background(), core.Operator())
	if err != nil || len(devices) != 1 {
		t.Fatalf("devices %v (%v)", devices, err)
	}
	if err := app.RevokeDevice(context.Background(), core.Operator(), devices[0].ID); err != nil {
		t.Fatal(err)
	}
	d, err := storecopy.Diff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(d, "\n")
	for _, want := range []string{"conflict " + open[0].ID + " differs", "device " + devices[0].ID + " differs"} {
		if !strings.Contains(joined, want) {
			t.Errorf("Diff lacks %q:\n%s", want, joined)
		}
	}
}

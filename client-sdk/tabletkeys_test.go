package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	client "github.com/ruhu-dev/ruhu/client-sdk"
	"github.com/ruhu-dev/ruhu/syncengine"
)

const (
	keyPIN     = "246813"
	keyName    = "张三丰"
	keyIDNum   = "34012219800101123X"
	keyPhone   = "13955501234"
	keyRelated = "配偶" // not personal: stays in clear, the control
)

// keyTablet is an enrolled tablet that synced once (it holds a key share),
// with a member and a household holding personal fields, and a PIN set.
func keyTablet(t *testing.T, f *fakeServer) *tablet {
	t.Helper()
	tb := newTablet(t, f, nil)
	tb.save(t, "members", "m1", map[string]any{"name": keyName, "id_number": keyIDNum, "relation": keyRelated})
	tb.save(t, "households", "h1", map[string]any{"head_name": keyName, "phone": keyPhone})
	tb.sync(t)
	if err := tb.SetPIN(keyPIN); err != nil {
		t.Fatalf("set PIN: %v", err)
	}
	return tb
}

// advance moves the server's and the tablet's clocks together.
func advance(f *fakeServer, tb *tablet, d time.Duration) {
	f.set(func(f *fakeServer) { f.now = f.now.Add(d) })
	tb.clock.Advance(d)
}

// readable reports whether m1's personal fields read back, or the error.
func readable(tb *tablet) error {
	m, err := tb.Get("members", "m1")
	if err != nil {
		return err
	}
	if m.String("id_number") != keyIDNum || m.String("name") != keyName {
		return errors.New("member read back wrong: " + m.String("name"))
	}
	return nil
}

// fileHolds reports which of secrets the closed tablet file holds.
func fileHolds(t *testing.T, path string, secrets ...[]byte) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range secrets {
		if bytes.Contains(b, s) {
			out = append(out, string(s))
		}
	}
	return out
}

func wantCode(t *testing.T, what string, err error, sentinel error, code string) {
	t.Helper()
	if !errors.Is(err, sentinel) || syncengine.ErrorCode(err) != code {
		t.Fatalf("%s: %v, want %s (%s)", what, err, code, sentinel)
	}
}

// TestKeyLeaseExpiresWithoutSync: with a PIN set, personal fields read
// while the key is unlocked; Lock and a reopen seal them until the PIN;
// a tablet that does not sync for longer than the lease cannot read them
// even with the right PIN (ELEASE, not counted as a wrong PIN), and the
// expired share is scrubbed from the file; a sync renews the lease and
// the key unlocked before works again.
func TestKeyLeaseExpiresWithoutSync(t *testing.T) {
	f := newFakeServer(t)
	tb := keyTablet(t, f)
	if err := readable(tb); err != nil {
		t.Fatalf("after SetPIN: %v", err)
	}
	tb.Lock()
	wantCode(t, "locked", readable(tb), client.ErrLocked, client.CodeLocked)
	if _, err := tb.Draft("none"); syncengine.ErrorCode(err) != syncengine.ENOTFOUND {
		t.Fatalf("a missing draft while locked: %v", err)
	}
	tb.reopen(t)
	wantCode(t, "after reopen", readable(tb), client.ErrLocked, client.CodeLocked)
	if err := tb.Unlock(keyPIN); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if err := readable(tb); err != nil {
		t.Fatalf("unlocked: %v", err)
	}

	advance(f, tb, 14*24*time.Hour-time.Minute)
	if err := readable(tb); err != nil {
		t.Fatalf("a minute before the lease ends: %v", err)
	}
	advance(f, tb, 2*time.Minute)
	wantCode(t, "past the lease", readable(tb), client.ErrLeaseExpired, client.CodeLeaseExpired)
	wantCode(t, "unlock past the lease", tb.Unlock(keyPIN), client.ErrLeaseExpired, client.CodeLeaseExpired)
	if _, err := tb.Query("households", nil); syncengine.ErrorCode(err) != client.CodeLeaseExpired {
		t.Fatalf("household list past the lease: %v", err)
	}
	ks, err := tb.KeyState()
	if err != nil || ks.Unlocked || !ks.Protected || ks.PINFailures != 0 || !ks.LeaseUntil.IsZero() {
		t.Fatalf("key state past the lease: %+v, %v (the share should be scrubbed)", ks, err)
	}
	// Setting the clock back does not bring the lease back.
	tb.clock.Set(tb.clock.Now().Add(-48 * time.Hour))
	wantCode(t, "clock set back", readable(tb), client.ErrLeaseExpired, client.CodeLeaseExpired)
	tb.clock.Set(tb.clock.Now().Add(48 * time.Hour))
	tb.Close()
	share := sha256.Sum256([]byte("key share of dev1"))
	if got := fileHolds(t, tb.path, []byte(keyName), []byte(keyIDNum), []byte(keyPhone), share[:]); len(got) > 0 {
		t.Fatalf("the file holds %q in clear", got)
	}
	if got := fileHolds(t, tb.path, []byte(keyRelated)); len(got) != 1 {
		t.Fatal("test is broken: the non-personal relation should be in the file")
	}
	tb.open(t)

	// The sync renews the share; the PIN opens the key again.
	tb.sync(t)
	if err := tb.Unlock(keyPIN); err != nil {
		t.Fatalf("unlock after the sync: %v", err)
	}
	if err := readable(tb); err != nil {
		t.Fatalf("after the sync: %v", err)
	}
	// A session still unlocked when the lease ends reads again right after
	// the sync, without the PIN.
	advance(f, tb, 15*24*time.Hour)
	wantCode(t, "second lease", readable(tb), client.ErrLeaseExpired, client.CodeLeaseExpired)
	tb.sync(t)
	if err := readable(tb); err != nil {
		t.Fatalf("unlocked session after the sync: %v", err)
	}
	if f.keyShares != 3 {
		t.Errorf("%d key shares asked, want one per sync (3)", f.keyShares)
	}
}

// TestRevokedTabletStaysUnreadable: a lost tablet revoked on the server
// and never connected again cannot read its personal fields once the
// lease runs out, whatever PIN; if it connects, the server refuses the
// share (EREVOKED) and the tablet wipes itself.
func TestRevokedTabletStaysUnreadable(t *testing.T) {
	f := newFakeServer(t)
	tb := keyTablet(t, f)
	dev := tb.status(t).DeviceID
	f.set(func(f *fakeServer) { f.revoked[dev] = true })
	tb.Lock()
	if err := tb.Unlock(keyPIN); err != nil { // still within the lease: the finder has the PIN
		t.Fatalf("within the lease: %v", err)
	}
	advance(f, tb, 15*24*time.Hour)
	wantCode(t, "past the lease", readable(tb), client.ErrLeaseExpired, client.CodeLeaseExpired)
	tb.Lock()
	wantCode(t, "the right PIN", tb.Unlock(keyPIN), client.ErrLeaseExpired, client.CodeLeaseExpired)
	tb.reopen(t)
	wantCode(t, "the right PIN after a restart", tb.Unlock(keyPIN), client.ErrLeaseExpired, client.CodeLeaseExpired)

	before := f.keyShares
	if err := tb.RenewKeyShare(context.Background()); syncengine.ErrorCode(err) != syncengine.EREVOKED {
		t.Fatalf("renew on a revoked device: %v", err)
	}
	if f.keyShares != before {
		t.Fatal("the server handed a revoked device its share")
	}
	if err := readable(tb); syncengine.ErrorCode(err) != syncengine.EREVOKED {
		t.Fatalf("after the refusal: %v, want EREVOKED (wiped)", err)
	}
	tb.Close()
	if got := fileHolds(t, tb.path, []byte(keyName), []byte(keyIDNum), []byte(keyRelated)); len(got) > 0 {
		t.Fatalf("the wiped file holds %q", got)
	}
}

// TestWrongPINsWipe: three wrong PINs in a row are free, then each try
// waits longer (a try too early is refused uncounted, setting the clock
// back does not help), a right PIN clears the count, and the policy's
// count of wrong PINs in a row wipes the tablet.
func TestWrongPINsWipe(t *testing.T) {
	f := newFakeServer(t)
	f.maxPINFailures = 5
	tb := keyTablet(t, f)
	tb.sync(t) // the policy's count arrives with the share
	tb.Lock()
	wrong := func(left string) {
		t.Helper()
		err := tb.Unlock("0000")
		wantCode(t, "wrong PIN", err, client.ErrWrongPIN, client.CodeWrongPIN)
		if !strings.Contains(syncengine.ErrorMessage(err), "再错 "+left+" 次") {
			t.Fatalf("message %q does not say %s tries are left", syncengine.ErrorMessage(err), left)
		}
	}
	wrong("4")
	wrong("3")
	if err := tb.Unlock(keyPIN); err != nil {
		t.Fatalf("right PIN: %v", err)
	}
	tb.Lock()
	if ks, _ := tb.KeyState(); ks.PINFailures != 0 || ks.MaxPINFailures != 5 {
		t.Fatalf("after the right PIN: %+v", ks)
	}
	wrong("4")
	wrong("3")
	wrong("2") // the third: a wait starts
	tooSoon := tb.Unlock(keyPIN)
	wantCode(t, "too soon", tooSoon, client.ErrPINWait, client.CodePINWait)
	if msg := tooSoon.Error(); !strings.Contains(msg, " 秒后再试") {
		t.Errorf("the wait is not said in Chinese: %q", msg)
	}
	tb.clock.Set(tb.clock.Now().Add(-time.Hour))
	wantCode(t, "clock set back", tb.Unlock("0000"), client.ErrPINWait, client.CodePINWait)
	tb.clock.Set(tb.clock.Now().Add(time.Hour))
	tb.reopen(t)
	wantCode(t, "too soon after a restart", tb.Unlock("0000"), client.ErrPINWait, client.CodePINWait)
	tb.clock.Advance(31 * time.Second)
	wrong("1")
	tb.clock.Advance(31 * time.Second)
	wantCode(t, "the doubled wait", tb.Unlock("0000"), client.ErrPINWait, client.CodePINWait)
	tb.clock.Advance(31 * time.Second)
	wantCode(t, "the last wrong PIN", tb.Unlock("0000"), client.ErrPINWiped, syncengine.EREVOKED)
	wantCode(t, "the right PIN after the wipe", tb.Unlock(keyPIN), client.ErrPINWiped, syncengine.EREVOKED)
	if _, err := tb.Status(); !errors.Is(err, client.ErrPINWiped) {
		t.Fatalf("status after the wipe: %v", err)
	}
	tb.Close()
	if got := fileHolds(t, tb.path, []byte(keyName), []byte(keyIDNum), []byte(keyRelated)); len(got) > 0 {
		t.Fatalf("the wiped file holds %q", got)
	}
	// Logging in again makes the tablet usable, empty.
	tb.open(t)
	if err := tb.Login(context.Background(), f.URL(), fakeUser, fakePassword); err != nil {
		t.Fatalf("login after the wipe: %v", err)
	}
	if has, err := tb.HasPIN(); err != nil || has {
		t.Fatalf("PIN after the wipe and login: %v, %v", has, err)
	}
}

// TestFirstPINReseals: setting the first PIN needs a key share; it
// replaces the data key that lived in the file by a fresh one, reseals
// records, queued ops and drafts under it and rewrites the file, so the
// old key is nowhere in it; changing the PIN needs the key unlocked.
func TestFirstPINReseals(t *testing.T) {
	f := newFakeServer(t)
	f.noKeyShare = true
	tb := newTablet(t, f, nil)
	tb.save(t, "members", "m1", map[string]any{"name": keyName, "id_number": keyIDNum, "relation": keyRelated})
	tb.sync(t) // the server has no key shares: the sync still works
	wantCode(t, "PIN without a share", tb.SetPIN(keyPIN), client.ErrLeaseExpired, client.CodeLeaseExpired)
	f.set(func(f *fakeServer) { f.noKeyShare = false })
	tb.sync(t)
	tb.save(t, "households", "h1", map[string]any{"head_name": keyName, "phone": keyPhone}) // queued, unsent
	draft := []byte(`{"answered_by_name":"` + keyName + `"}`)
	if err := tb.SaveDraft("visit-1", draft); err != nil {
		t.Fatal(err)
	}
	tb.Close()
	oldKey := metaValue(t, tb.path, "pii_key")
	if len(oldKey) != 32 {
		t.Fatalf("legacy key of %d bytes", len(oldKey))
	}
	tb.open(t)
	if err := tb.SetPIN(keyPIN); err != nil {
		t.Fatal(err)
	}
	tb.Close()
	if got := fileHolds(t, tb.path, oldKey, []byte(keyName), []byte(keyIDNum), []byte(keyPhone)); len(got) > 0 {
		t.Fatalf("after the first PIN the file holds %q", got)
	}
	tb.open(t)
	wantCode(t, "draft while locked", func() error { _, err := tb.Draft("visit-1"); return err }(), client.ErrLocked, client.CodeLocked)
	if err := tb.SetPIN("1357"); !errors.Is(err, client.ErrLocked) {
		t.Fatalf("change the PIN while locked: %v", err)
	}
	if err := tb.Unlock(keyPIN); err != nil {
		t.Fatal(err)
	}
	if got, err := tb.Draft("visit-1"); err != nil || !bytes.Equal(got, draft) {
		t.Fatalf("draft: %s, %v", got, err)
	}
	if err := tb.SetPIN("1357"); err != nil {
		t.Fatal(err)
	}
	tb.reopen(t)
	wantCode(t, "the old PIN", tb.Unlock(keyPIN), client.ErrWrongPIN, client.CodeWrongPIN)
	if err := tb.Unlock("1357"); err != nil {
		t.Fatal(err)
	}
	rep := tb.sync(t) // the queued household goes out in clear to the server
	if rep.Pushed != 1 || f.record("households/h1").Fields["phone"].Value == nil ||
		string(f.record("households/h1").Fields["phone"].Value) != `"`+keyPhone+`"` {
		t.Fatalf("push after resealing: %+v", rep)
	}
	if err := readable(tb); err != nil {
		t.Fatal(err)
	}
}

// metaValue reads a key of the tablet file's meta bucket (file closed).
func metaValue(t *testing.T, path, key string) []byte {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v []byte
	db.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket([]byte("meta")).Get([]byte(key)))
		return nil
	})
	return v
}

// TestParallelWrongPINsAreAllCounted: wrong PINs tried at once are
// counted one by one, so they cannot exceed the limit together.
func TestParallelWrongPINsAreAllCounted(t *testing.T) {
	f := newFakeServer(t)
	tb := keyTablet(t, f)
	tb.Lock()
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- tb.Unlock("0000") }()
	}
	for range 3 {
		if err := <-errs; !errors.Is(err, client.ErrWrongPIN) {
			t.Fatalf("parallel wrong PIN: %v", err)
		}
	}
	if ks, err := tb.KeyState(); err != nil || ks.PINFailures != 3 || ks.RetryAt.IsZero() {
		t.Fatalf("after three parallel wrong PINs: %+v, %v", ks, err)
	}
}

// BenchmarkUnlock is one PIN try: argon2id and the unwrap.
func BenchmarkUnlock(b *testing.B) {
	f := newFakeServer(b)
	tb := newTablet(b, f, nil)
	tb.sync(b)
	if err := tb.SetPIN(keyPIN); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := tb.Unlock(keyPIN); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuerySealedHouseholds reads 300 households whose head name,
// address and phone are sealed, with the key unlocked (the field app's
// list), against the same households with nothing sealed.
func BenchmarkQuerySealedHouseholds(b *testing.B) {
	for _, bc := range []struct {
		name string
		mod  func(*client.Options)
	}{
		{"sealed", nil},
		{"clear", func(o *client.Options) { o.PIIFields = func(string) []string { return nil } }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFakeServer(b)
			tb := newTablet(b, f, bc.mod)
			tb.sync(b)
			for i := range 300 {
				tb.save(b, "households", fmt.Sprintf("h%03d", i), map[string]any{"head_name": keyName, "address": "桃园村一组", "phone": keyPhone})
			}
			if err := tb.SetPIN(keyPIN); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				hs, err := tb.Query("households", nil)
				if err != nil || len(hs) != 300 {
					b.Fatalf("%d households, %v", len(hs), err)
				}
			}
		})
	}
}

// TestAnotherUserTakesTheTablet: when another officer logs in on a tablet
// whose PIN-protected data was all synced, the previous user's key
// material and drafts go with their data; the new user enrols, syncs
// (the share of the new device) and sets their own PIN.
func TestAnotherUserTakesTheTablet(t *testing.T) {
	f := newFakeServer(t)
	tb := keyTablet(t, f)
	if err := tb.SaveDraft("visit-1", []byte(`{"answered_by_name":"`+keyName+`"}`)); err != nil {
		t.Fatal(err)
	}
	tb.Lock()
	ctx := context.Background()
	if err := tb.Login(ctx, f.URL(), fakeOtherUser, fakePassword); err != nil {
		t.Fatalf("login as %s: %v", fakeOtherUser, err)
	}
	if has, err := tb.HasPIN(); err != nil || has {
		t.Fatalf("the previous user's PIN survived: %v, %v", has, err)
	}
	if ids, err := tb.DraftIDs(); err != nil || len(ids) != 0 {
		t.Fatalf("the previous user's drafts survived: %v, %v", ids, err)
	}
	if err := tb.Enroll(ctx, "平板A"); err != nil {
		t.Fatal(err)
	}
	tb.sync(t)
	if err := tb.SetPIN("1357"); err != nil {
		t.Fatalf("the new user's PIN: %v", err)
	}
	tb.save(t, "members", "m9", map[string]any{"name": "李四", "id_number": "340122199001011234"})
	tb.Lock()
	if err := tb.Unlock("1357"); err != nil {
		t.Fatal(err)
	}
	tb.sync(t)
	tb.Close()
	if got := fileHolds(t, tb.path, []byte(keyName), []byte(keyIDNum), []byte("李四")); len(got) > 0 {
		t.Fatalf("the file holds %q in clear", got)
	}
}

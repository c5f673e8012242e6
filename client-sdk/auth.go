package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/ruhu-dev/ruhu/syncengine"
)

func encodeKey(pub []byte) string { return base64.StdEncoding.EncodeToString(pub) }

// transport returns an HTTP transport for serverURL whose bearer token is
// read from the store on every request, so a refresh takes effect at once.
func (c *Client) transport(serverURL string, onExchange func(Exchange)) *HTTPTransport {
	return &HTTPTransport{
		BaseURL:    serverURL,
		Client:     c.opts.HTTPClient,
		Now:        c.opts.DeviceClock.Now,
		Token:      c.accessToken,
		OnExchange: onExchange,
		SignBatch:  c.signBatch,
	}
}

// signBatch signs a push body with the enrolled device key (the
// syncengine.BatchSignatureHeader value); "" before enrolment.
func (c *Client) signBatch(body []byte) string {
	var sig string
	_ = c.view(func(tx *bolt.Tx, _ codec) error {
		m := meta{tx.Bucket(bucketMeta)}
		priv, device := m.bytes(metaDeviceKey), m.str(metaDevice)
		if len(priv) == ed25519.PrivateKeySize && device != "" {
			sig = syncengine.SignBatch(ed25519.PrivateKey(priv), device, body)
		}
		return nil
	})
	return sig
}

func (c *Client) accessToken() string {
	var tok string
	_ = c.view(func(tx *bolt.Tx, _ codec) error {
		tok = meta{tx.Bucket(bucketMeta)}.str(metaAccess)
		return nil
	})
	return tok
}

// enrolledServer returns the server address of a store that has logged in
// and enrolled this device, which sync and uploads need before they call
// the server.
//
// Codes: EUNAUTHORIZED (not logged in, or this device not enrolled).
func (c *Client) enrolledServer() (string, error) {
	var server string
	err := c.view(func(tx *bolt.Tx, _ codec) error {
		m := meta{tx.Bucket(bucketMeta)}
		server = m.str(metaServer)
		if server == "" || m.str(metaDevice) == "" || m.str(metaRefresh) == "" {
			return syncengine.Errorf(syncengine.EUNAUTHORIZED, "请先登录并登记此设备")
		}
		return nil
	})
	return server, err
}

// Login signs a user in on this tablet and keeps the server address and a
// user access token, enough to Enroll. Logging in again as the same user
// keeps the device enrollment and all data. Logging in as another user is
// refused while the previous user's changes are unsynced (ECONFLICT);
// otherwise the previous user's data, enrollment, drafts and key material
// (their PIN) are dropped. Login on a wiped (revoked) store makes it
// usable again.
//
// Codes: EUNAUTHORIZED (wrong password), ECONFLICT, ETRANSIENT, EINVALID.
func (c *Client) Login(ctx context.Context, serverURL, username, password string) error {
	serverURL = strings.TrimSuffix(strings.TrimSpace(serverURL), "/")
	if serverURL == "" || username == "" {
		return syncengine.Errorf(syncengine.EINVALID, "服务器地址和用户名不能为空")
	}
	err := c.view(func(tx *bolt.Tx, _ codec) error {
		prev := meta{tx.Bucket(bucketMeta)}.str(metaUser)
		if prev != "" && prev != username {
			return unsyncedWork(tx, prev)
		}
		return nil
	})
	if err != nil && !isCode(err, syncengine.EREVOKED) {
		return err
	}
	tr := c.transport(serverURL, nil)
	tr.Token = nil
	resp, err := tr.Login(ctx, username, password)
	if err != nil {
		return err
	}
	if err := c.unwipe(); err != nil {
		return err
	}
	dropped := false
	var freshKey []byte
	defer func() {
		if dropped {
			if err := c.blobs.removeAll(); err != nil {
				c.log.Warn("drop previous user's evidence files", "err", err)
			}
		}
	}()
	err = c.update(func(tx *bolt.Tx, _ codec) error {
		m := meta{tx.Bucket(bucketMeta)}
		prev := m.str(metaUser)
		if (prev != "" && prev != username) || (m.str(metaServer) != "" && m.str(metaServer) != serverURL) {
			if err := unsyncedWork(tx, prev); err != nil {
				return err
			}
			if err := dropUserData(tx); err != nil {
				return err
			}
			key, err := resetKeys(tx)
			if err != nil {
				return err
			}
			tx.OnCommit(func() { dropped, freshKey = true, key })
		}
		if err := m.putStr(metaServer, serverURL); err != nil {
			return err
		}
		if err := m.putStr(metaUser, username); err != nil {
			return err
		}
		if err := m.putStr(metaRole, resp.User.Role); err != nil {
			return err
		}
		if m.str(metaDevice) == "" {
			// Not enrolled yet: the user token is what Enroll needs. An
			// enrolled tablet keeps its device-bound token.
			return m.putStr(metaAccess, resp.AccessToken)
		}
		return nil
	})
	if err != nil || freshKey == nil {
		return err
	}
	// The previous user's key is gone: the new one's PII is sealed under
	// a fresh file key until they set a PIN, and no free page keeps the
	// old key material.
	c.keys.forget()
	if err := c.keys.load(keyState{}, freshKey); err != nil {
		return err
	}
	return c.compactFile()
}

// unsyncedWork refuses to drop a user's data while ops or evidence uploads
// made under that user still wait.
func unsyncedWork(tx *bolt.Tx, user string) error {
	if tx.Bucket(bucketOutbox).Stats().KeyN > 0 {
		return syncengine.Errorf(syncengine.ECONFLICT, "用户 %s 还有未上传的记录，请先同步", user)
	}
	n, err := pendingUploads(tx)
	if err != nil {
		return err
	}
	if n > 0 {
		return syncengine.Errorf(syncengine.ECONFLICT, "用户 %s 还有 %d 个照片或签字文件未上传，请先同步", user, n)
	}
	return nil
}

// dropUserData forgets another user's records, ops, upload queue and
// enrollment (the caller removes the evidence files once this commits).
func dropUserData(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketRecords, bucketPending, bucketSent, bucketRejected, bucketUploads} {
		if err := tx.DeleteBucket(name); err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("recreate %s: %w", name, err)
		}
	}
	return meta{tx.Bucket(bucketMeta)}.del(metaDevice, metaDeviceName, metaDeviceKey, metaRefresh, metaAccess, metaCursor)
}

// Enroll registers this tablet with the server as a device of the logged-in
// user: it makes an ed25519 key pair (the private key stays in the tablet
// file), posts the public key and keeps the device id, refresh token and
// device-bound access token that sync needs. Enrolling again makes a new
// device; it is refused while ops made under the old one are unsynced.
//
// Codes: EUNAUTHORIZED (not logged in, or the login expired: log in again),
// ECONFLICT, ETRANSIENT, EREVOKED.
func (c *Client) Enroll(ctx context.Context, deviceName string) error {
	var server, access string
	err := c.view(func(tx *bolt.Tx, _ codec) error {
		m := meta{tx.Bucket(bucketMeta)}
		server, access = m.str(metaServer), m.str(metaAccess)
		if m.str(metaDevice) != "" && tx.Bucket(bucketOutbox).Stats().KeyN > 0 {
			return syncengine.Errorf(syncengine.ECONFLICT, "还有未上传的记录，请先同步再重新登记设备")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if server == "" || access == "" {
		return syncengine.Errorf(syncengine.EUNAUTHORIZED, "请先登录")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generate device key: %w", err)
	}
	tr := c.transport(server, nil)
	resp, err := tr.Enroll(ctx, deviceName, pub)
	if err != nil {
		return c.afterAuthError(err)
	}
	return c.update(func(tx *bolt.Tx, _ codec) error {
		m := meta{tx.Bucket(bucketMeta)}
		for k, v := range map[string]string{
			metaDevice: resp.DeviceID, metaDeviceName: deviceName, metaDeviceKey: string(priv),
			metaRefresh: resp.RefreshToken, metaAccess: resp.AccessToken,
		} {
			if err := m.putStr(k, v); err != nil {
				return fmt.Errorf("store enrollment: %w", err)
			}
		}
		return nil
	})
}

// DevicePublicKey returns the enrolled device's ed25519 public key.
//
// Codes: EUNAUTHORIZED (not enrolled), EREVOKED.
func (c *Client) DevicePublicKey() (ed25519.PublicKey, error) {
	var key ed25519.PublicKey
	err := c.view(func(tx *bolt.Tx, _ codec) error {
		priv := meta{tx.Bucket(bucketMeta)}.bytes(metaDeviceKey)
		if len(priv) != ed25519.PrivateKeySize {
			return syncengine.Errorf(syncengine.EUNAUTHORIZED, "此设备尚未登记")
		}
		key = ed25519.PrivateKey(priv).Public().(ed25519.PublicKey)
		return nil
	})
	return key, err
}

// refresh trades the stored refresh token for new tokens and stores both
// at once: the old refresh token stops working the moment the server
// answers.
func (c *Client) refresh(ctx context.Context, tr *HTTPTransport) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	var rt string
	if err := c.view(func(tx *bolt.Tx, _ codec) error {
		rt = meta{tx.Bucket(bucketMeta)}.str(metaRefresh)
		return nil
	}); err != nil {
		return err
	}
	if rt == "" {
		return syncengine.Errorf(syncengine.EUNAUTHORIZED, "此设备尚未登记")
	}
	resp, err := tr.Refresh(ctx, rt)
	if err != nil {
		if isCode(err, syncengine.EUNAUTHORIZED) {
			return fmt.Errorf("%w (%v)", syncengine.Errorf(syncengine.EUNAUTHORIZED, "登录已失效，请重新登录并登记设备"), err)
		}
		return err
	}
	return c.update(func(tx *bolt.Tx, _ codec) error {
		m := meta{tx.Bucket(bucketMeta)}
		if err := m.putStr(metaAccess, resp.AccessToken); err != nil {
			return err
		}
		if resp.RefreshToken != "" {
			return m.putStr(metaRefresh, resp.RefreshToken)
		}
		return nil
	})
}

// afterAuthError wipes the store when the server says the device is revoked.
func (c *Client) afterAuthError(err error) error {
	if isCode(err, syncengine.EREVOKED) {
		if werr := c.wipe(wipeRevoked); werr != nil {
			return fmt.Errorf("%w; wipe failed: %v", err, werr)
		}
	}
	return err
}

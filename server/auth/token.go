package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are what an access token asserts.
type Claims struct {
	Role   string   `json:"role"`
	Scopes []string `json:"scopes"`
	// Device is the enrolled device the token was issued to ("" for a
	// token from a password login that no device holds yet).
	Device string `json:"dev,omitempty"`
	jwt.RegisteredClaims
}

// Username returns the subject.
func (c *Claims) Username() string { return c.Subject }

const issuer = "ruhu"

// ErrBadToken covers every token that must not be believed: forged,
// expired, wrong algorithm, alg none, wrong issuer, malformed.
var ErrBadToken = errors.New("invalid access token")

// Tokens issues and verifies access tokens: HS256 only (pinned, so "none"
// and algorithm-confusion tokens are refused), short-lived.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewTokens returns a token service. ttl is the access token life (zero
// means 15 minutes); now is the clock (tests inject it).
func NewTokens(secret []byte, ttl time.Duration, now func() time.Time) *Tokens {
	if ttl == 0 {
		ttl = 15 * time.Minute
	}
	return &Tokens{secret: secret, ttl: ttl, now: now}
}

// TTL is the life of issued access tokens.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue signs an access token for the user, bound to device if not "".
func (t *Tokens) Issue(username, role string, scopes []string, device string) (string, error) {
	now := t.now()
	c := Claims{Role: role, Scopes: scopes, Device: device, RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   username,
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		ID:        randomToken(12),
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// Verify parses and checks a token. Any failure is ErrBadToken (wrapped
// with the reason for logs).
func (t *Tokens) Verify(token string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: no subject", ErrBadToken)
	}
	return &c, nil
}

// NewRefreshToken returns a random opaque refresh token.
func NewRefreshToken() string { return randomToken(32) }

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

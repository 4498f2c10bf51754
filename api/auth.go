package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"os"
	"strings"
)

// LocalTokenName is the name of the admin token kept in Config.TokenFile.
const LocalTokenName = "local-admin"

// principal is who made a request: the token's name and role, and the
// remote address.
type principal struct {
	name   string
	role   Role
	remote string
}

type principalKey struct{}

func who(r *http.Request) principal {
	p, _ := r.Context().Value(principalKey{}).(principal)
	return p
}

// keyring holds the tokens' hashes; a presented token is hashed and
// compared with every one in constant time, so neither the time taken
// nor the log tells anything about the tokens.
type keyring struct {
	names  []string
	roles  []Role
	hashes [][32]byte
	allow  []netip.Prefix
}

func newKeyring(c Config) (*keyring, error) {
	k := &keyring{}
	var err error
	if k.allow, err = parseAllow(c.Allow); err != nil {
		return nil, err
	}
	for _, t := range c.Tokens {
		role, ok := parseRole(t.Role)
		if !ok {
			return nil, fmt.Errorf("token %q: bad role %q", t.Name, t.Role)
		}
		h, err := parseHash(t.SHA256)
		if err != nil {
			return nil, fmt.Errorf("token %q: %w", t.Name, err)
		}
		k.names, k.roles, k.hashes = append(k.names, t.Name), append(k.roles, role), append(k.hashes, h)
	}
	return k, nil
}

// remoteAddr is the request's peer address. X-Forwarded-For is not read:
// anyone could write it.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// authenticate checks the remote address and the bearer token, and
// returns who it is, or the error to answer with.
func (k *keyring) authenticate(r *http.Request, need Role) (principal, error) {
	addr := remoteAddr(r)
	p := principal{remote: addr.String()}
	if len(k.allow) > 0 {
		ok := false
		for _, pre := range k.allow {
			ok = ok || pre.Contains(addr)
		}
		if !ok {
			return p, errorf(http.StatusForbidden, "remote address %s is not in the allow-list ([api] allow)", addr)
		}
	}
	auth := r.Header.Get("Authorization")
	scheme, token, found := strings.Cut(auth, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return p, errorf(http.StatusUnauthorized, "missing bearer token: send the header Authorization: Bearer <token>")
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(token)))
	match := -1
	for i := range k.hashes {
		if subtle.ConstantTimeCompare(h[:], k.hashes[i][:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return p, errorf(http.StatusUnauthorized, "the bearer token is not one of the configured tokens")
	}
	p.name, p.role = k.names[match], k.roles[match]
	if p.role < need {
		return p, errorf(http.StatusForbidden, "token %q has role %s; this needs %s", p.name, p.role, need)
	}
	return p, nil
}

func withPrincipal(ctx context.Context, p principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// LocalToken returns the admin token kept in path. When path does not
// exist it makes one (32 random bytes, base64url), writes only its
// SHA-256 there (mode 0600), and returns the token itself as created,
// for the caller to show once; later calls return "" for it.
func LocalToken(path string) (tok Token, created string, err error) {
	tok = Token{Name: LocalTokenName, Role: "admin"}
	b, err := os.ReadFile(path)
	if err == nil {
		tok.SHA256 = strings.TrimSpace(string(b))
		if _, err := parseHash(tok.SHA256); err != nil {
			return tok, "", fmt.Errorf("%s: %w; delete the file to make a new token", path, err)
		}
		return tok, "", nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return tok, "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return tok, "", err
	}
	created = base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(created))
	tok.SHA256 = hex.EncodeToString(sum[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return tok, "", err
	}
	if _, err := f.WriteString(tok.SHA256 + "\n"); err != nil {
		f.Close()
		return tok, "", err
	}
	return tok, created, f.Close()
}

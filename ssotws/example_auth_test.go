package ssotws_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
)

// hs256Verifier checks HS256 JSON Web Tokens with the standard library
// only. For RS256/ES256 and key sets (JWKS) use a maintained library such
// as github.com/golang-jwt/jwt/v5 or github.com/lestrrat-go/jwx, or
// github.com/coreos/go-oidc for an OpenID Connect provider: the shape of
// the Authenticator stays the same.
type hs256Verifier struct {
	key              []byte
	issuer, audience string
	revoked          func(jti string) bool // a deny list, checked on every use
}

func (v *hs256Verifier) Authenticate(ctx context.Context, token string) (*ssotws.Identity, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("jwt: malformed")
	}
	// Check the signature before looking at anything the token says.
	mac := hmac.New(sha256.New, v.key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, errors.New("jwt: bad signature")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &header); err != nil || header.Alg != "HS256" {
		return nil, errors.New("jwt: unsupported header") // never accept "none"
	}
	var claims struct {
		Sub string `json:"sub"`
		Iss string `json:"iss"`
		Aud string `json:"aud"` // a string here; the spec also allows an array
		Exp int64  `json:"exp"`
		Nbf int64  `json:"nbf"`
		Jti string `json:"jti"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, errors.New("jwt: malformed claims")
	}
	now := time.Now()
	switch {
	case claims.Iss != v.issuer || claims.Aud != v.audience || claims.Sub == "":
		return nil, errors.New("jwt: wrong issuer, audience or subject")
	case claims.Exp == 0 || claims.Nbf != 0 && now.Before(time.Unix(claims.Nbf, 0)):
		return nil, errors.New("jwt: no expiry, or not valid yet")
	case !now.Before(time.Unix(claims.Exp, 0)):
		return nil, ssotws.ErrTokenExpired // 4408 on the gateway: the client refreshes
	case v.revoked != nil && v.revoked(claims.Jti):
		return nil, errors.New("jwt: revoked")
	}
	return &ssotws.Identity{Subject: claims.Sub, TokenID: claims.Jti, Expires: time.Unix(claims.Exp, 0)}, nil
}

func decodeSegment(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// sign makes an HS256 token, as an identity provider would.
func sign(key []byte, claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	head := enc(map[string]string{"alg": "HS256", "typ": "JWT"}) + "." + enc(claims)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(head))
	return head + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// One Authenticator, here a JWT verifier, guards both the Connect handlers
// (through NewAuthInterceptor) and the gateway.
func ExampleNewAuthInterceptor() {
	key := []byte("a 32-byte secret from your vault")
	auth := &hs256Verifier{key: key, issuer: "https://id.example.com", audience: "chat"}

	broker := ssotws.NewMemoryBroker(nil)
	defer broker.Close()
	gateway := ssotws.NewGateway(broker, &ssotws.GatewayOptions{
		Authenticator: auth,
		RequireAuth:   true,
	})
	defer gateway.Close()
	if err := chatv1ssotws.RegisterChannels(gateway); err != nil {
		panic(err)
	}
	svc := chatv1ssotws.NewChatService(ssotws.NewMemoryStore(), broker, nil)
	mux := http.NewServeMux()
	mux.Handle("/ws", gateway)
	mux.Handle(chatv1connect.NewChatServiceHandler(svc,
		connect.WithInterceptors(ssotws.NewAuthInterceptor(auth, nil))))
	_ = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	good := sign(key, map[string]any{"sub": "alice", "iss": "https://id.example.com", "aud": "chat", "exp": time.Now().Add(time.Hour).Unix(), "jti": "t1"})
	old := sign(key, map[string]any{"sub": "alice", "iss": "https://id.example.com", "aud": "chat", "exp": time.Now().Add(-time.Minute).Unix()})
	forged := sign([]byte("another key"), map[string]any{"sub": "alice", "iss": "https://id.example.com", "aud": "chat", "exp": time.Now().Add(time.Hour).Unix()})
	for _, tok := range []string{good, old, forged} {
		id, err := auth.Authenticate(context.Background(), tok)
		if err != nil {
			fmt.Println("refused:", err)
			continue
		}
		fmt.Println("subject", id.Subject, "token", id.TokenID)
	}
	// Output:
	// subject alice token t1
	// refused: ssotws: token expired
	// refused: jwt: bad signature
}

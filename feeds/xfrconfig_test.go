package feeds

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-dns/bulwark/internal/bindtest"
)

// TestResolveTSIG reads a secret_file both as bare base64 and as the key
// clause tsig-keygen writes.
func TestResolveTSIG(t *testing.T) {
	dir := t.TempDir()
	bare := filepath.Join(dir, "bare.key")
	clause := filepath.Join(dir, "clause.key")
	short := filepath.Join(dir, "short.key")
	_ = os.WriteFile(bare, []byte(bindtest.KeySecret+"\n"), 0o600)
	_ = os.WriteFile(clause, []byte("key \"rpz-key\" {\n\talgorithm hmac-sha512;\n\tsecret \""+bindtest.KeySecret+"\";\n};\n"), 0o600)
	_ = os.WriteFile(short, []byte("c2hvcnQ=\n"), 0o600)
	tests := []struct {
		name    string
		cfg     TSIGConfig
		wantAlg string
		wantErr bool
	}{
		{"inline default algorithm", TSIGConfig{Name: "K", Secret: bindtest.KeySecret}, "hmac-sha256.", false},
		{"bare file", TSIGConfig{Name: "k", Algorithm: "hmac-sha512", SecretFile: "bare.key"}, "hmac-sha512.", false},
		{"tsig-keygen file", TSIGConfig{Name: "k", Algorithm: "HMAC-SHA512.", SecretFile: clause}, "hmac-sha512.", false},
		{"missing file", TSIGConfig{Name: "k", SecretFile: "none.key"}, "", true},
		{"short secret", TSIGConfig{Name: "k", SecretFile: "short.key"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := resolveTSIG(&tt.cfg, dir)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if k.name != "k." || k.algorithm != tt.wantAlg || k.secret != bindtest.KeySecret {
				t.Errorf("key = %+v", k)
			}
		})
	}
}

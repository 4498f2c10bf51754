package tomlconf

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// confDir is the repository's conf/, one directory per APP_ENV.
const confDir = "../../conf"

var (
	appEnvs   = []string{"local", "test", "online"}
	confFiles = []string{"api.toml", "common.toml", "kinds.toml", "logger.toml", "mysql.toml", "notice.toml", "redis.toml"}
)

// TestConfFiles checks the shipped config files: each is valid TOML, every
// APP_ENV has the same files with the same keys (so a key added to one is
// not forgotten in another), and every key's comment names the variable
// that really overrides it.
func TestConfFiles(t *testing.T) {
	keysOf := map[string][]string{} // file name -> keys of the first APP_ENV.
	for _, env := range appEnvs {
		names, err := filepath.Glob(filepath.Join(confDir, env, "*.toml"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range names {
			names[i] = filepath.Base(names[i])
		}
		if !slices.Equal(names, confFiles) {
			t.Errorf("conf/%s has %v, want %v", env, names, confFiles)
		}
		for _, name := range confFiles {
			t.Run(env+"/"+name, func(t *testing.T) {
				path := filepath.Join(confDir, env, name)
				text, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				var m map[string]any
				md, err := toml.Decode(string(text), &m)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				prefix := "TASKRUNNER_" + strings.ToUpper(strings.TrimSuffix(name, ".toml"))
				var keys []string
				for _, k := range md.Keys() {
					if md.Type(k...) == "Hash" {
						continue // A table: its keys have the variables.
					}
					keys = append(keys, k.String())
					if v := Env(prefix, k.String()); !strings.Contains(string(text), v) {
						t.Errorf("%s: key %q: comment does not name %s", path, k, v)
					}
				}
				slices.Sort(keys)
				if want, ok := keysOf[name]; !ok {
					keysOf[name] = keys
				} else if !slices.Equal(keys, want) {
					t.Errorf("%s has keys %v\nconf/%s/%s has %v", path, keys, appEnvs[0], name, want)
				}
			})
		}
	}
}

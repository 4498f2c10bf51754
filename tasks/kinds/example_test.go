package kinds_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"taskrunner/tasks"
	"taskrunner/tasks/kinds"
)

// A row with execute_func 'shell', args '"eu",7' and extra
// '{"language":"sh","executable":"jobs/hello.sh --from-row"}' runs
// sh collect/jobs/hello.sh --from-row eu 7.
func ExampleKinds_Shell() {
	dir, _ := os.MkdirTemp("", "kinds")
	defer os.RemoveAll(dir)
	_ = os.MkdirAll(filepath.Join(dir, "collect", "jobs"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "collect", "jobs", "hello.sh"), []byte(`echo "hello $*"`+"\n"), 0o644)

	cfg := kinds.DefaultConfig()
	cfg.Shell.CollectDir = filepath.Join(dir, "collect")
	cfg.Shell.LogDir = filepath.Join(dir, "logs")
	k, err := kinds.New(cfg, nil)
	if err != nil {
		panic(err)
	}
	defer k.Close()
	reg := tasks.NewRegistry()
	_ = k.Register(reg)

	// What the engine does with the row:
	args, _ := tasks.ParseArgs(`"eu",7`)
	fn, _ := reg.Check("shell", args)
	run := tasks.NewRun(4096)
	run.TaskKey, run.Args = "hello", args
	run.Extra = json.RawMessage(`{"language":"sh","executable":"jobs/hello.sh --from-row"}`)
	err = fn(context.Background(), run)
	for _, line := range strings.Split(run.OutputText(), "\n") {
		if strings.HasPrefix(line, "result: ") {
			fmt.Println(line, err)
		}
	}
	// Output: result: hello --from-row eu 7 <nil>
}

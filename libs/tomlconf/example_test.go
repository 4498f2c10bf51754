package tomlconf_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"taskrunner/libs/tomlconf"
)

func ExampleLoadSource() {
	dir, _ := os.MkdirTemp("", "conf")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "common.toml")
	os.WriteFile(path, []byte("[app]\ntimezone = \"Asia/Shanghai\"\n[scheduler]\nsync_interval = \"10s\"\n"), 0o644)

	// The struct holds the defaults; the file and then the environment
	// override them.
	type common struct {
		App struct {
			Timezone string `toml:"timezone"`
		} `toml:"app"`
		Scheduler struct {
			SyncInterval time.Duration `toml:"sync_interval"`
			Lease        time.Duration `toml:"lease"`
		} `toml:"scheduler"`
	}
	c := common{}
	c.Scheduler.Lease = 30 * time.Second

	os.Setenv("TASKRUNNER_COMMON_APP_TIMEZONE", "Mars/Base")
	defer os.Unsetenv("TASKRUNNER_COMMON_APP_TIMEZONE")
	src, err := tomlconf.LoadSource(path, "TASKRUNNER_COMMON", &c)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.App.Timezone, c.Scheduler.SyncInterval, c.Scheduler.Lease)

	// Validation after loading names where the bad value came from.
	if _, err := time.LoadLocation(c.App.Timezone); err != nil {
		fmt.Println(src.Errorf("app.timezone", "unknown time zone %q", c.App.Timezone))
	}
	// Output:
	// Mars/Base 10s 30s
	// TASKRUNNER_COMMON_APP_TIMEZONE: unknown time zone "Mars/Base"
}

func ExampleEnv() {
	fmt.Println(tomlconf.Env("TASKRUNNER_MYSQL", "password"))
	fmt.Println(tomlconf.Env("TASKRUNNER_COMMON", "app.timezone"))
	// Output:
	// TASKRUNNER_MYSQL_PASSWORD
	// TASKRUNNER_COMMON_APP_TIMEZONE
}

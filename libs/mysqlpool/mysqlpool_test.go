package mysqlpool

import (
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func TestConfig_FormatDSN(t *testing.T) {
	for name, c := range map[string]Config{
		"pieces": {Host: "db", Port: 3307, User: "u", Password: "p@ss:w/rd", Database: "tasks", Params: "charset=utf8mb4"},
		"dsn":    {DSN: "u:p@ss:w/rd@tcp(db:3307)/tasks?charset=utf8mb4&lock_wait_timeout=5"},
	} {
		t.Run(name, func(t *testing.T) {
			dsn, err := c.FormatDSN()
			if err != nil {
				t.Fatal(err)
			}
			got, err := mysql.ParseDSN(dsn)
			if err != nil {
				t.Fatal(err)
			}
			if got.Addr != "db:3307" || got.User != "u" || got.Passwd != "p@ss:w/rd" || got.DBName != "tasks" {
				t.Errorf("connection: %+v", got)
			}
			// Whatever the file says: times in UTC, one round trip, bounded waits.
			if !got.ParseTime || got.Loc != time.UTC || got.Params["time_zone"] != "'+00:00'" || !got.InterpolateParams ||
				got.ReadTimeout == 0 || got.WriteTimeout == 0 || got.Params["innodb_lock_wait_timeout"] == "" {
				t.Errorf("session settings: %+v", got)
			}
			if name == "dsn" && got.Params["lock_wait_timeout"] != "5" {
				t.Errorf("a DSN's own lock_wait_timeout was overridden: %v", got.Params)
			}
		})
	}
}

func TestConfig_Validate(t *testing.T) {
	for _, tt := range []struct {
		c        Config
		key, msg string
	}{
		{Config{Port: 3306, MaxOpenConns: 1}, "database", "is required"},
		{Config{Database: "d", Port: 70000, MaxOpenConns: 1}, "port", "70000"},
		{Config{DSN: "not a dsn"}, "dsn", "invalid DSN"},
		{Config{Database: "d", Port: 3306, MaxOpenConns: 1, Params: "readTimeout=abc"}, "params", "abc"},
		{Config{Database: "d", Port: 3306, MaxOpenConns: 1, Params: "charset=%zz"}, "params", "invalid"},
	} {
		key, err := tt.c.Validate()
		if key != tt.key || err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%+v: key %q err %v; want %q, %q", tt.c, key, err, tt.key, tt.msg)
		}
	}
}

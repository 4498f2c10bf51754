package redispool

import (
	"context"
	"log/slog"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// CheckServer warns, through log, when the server may lose what it is
// given: a maxmemory-policy other than noeviction, persistence off, or a
// version older than 6.2. It never fails: where CONFIG GET is refused (as
// on managed Redis), it warns that it could not check and goes on. Under
// Cluster or Sentinel it asks whichever node the client picks.
func CheckServer(ctx context.Context, rdb redis.UniversalClient, log *slog.Logger) {
	if info, err := rdb.Info(ctx, "server").Result(); err == nil {
		if w := versionWarning(info); w != "" {
			log.Warn("redis: " + w)
		}
	}
	conf := map[string]string{}
	for _, name := range []string{"maxmemory-policy", "appendonly", "save"} {
		m, err := rdb.ConfigGet(ctx, name).Result()
		if err != nil {
			log.Warn("redis: CONFIG GET refused (managed Redis?); check by hand that maxmemory-policy is noeviction and persistence (AOF or RDB) is on",
				"error", err)
			return
		}
		for k, v := range m {
			conf[k] = v
		}
	}
	for _, w := range ConfigWarnings(conf) {
		log.Warn("redis: " + w)
	}
}

// ConfigWarnings returns what is wrong, for a queue, with a server whose
// CONFIG GET of maxmemory-policy, appendonly and save returned conf, and
// why each matters. A key missing from conf is not judged.
func ConfigWarnings(conf map[string]string) []string {
	var ws []string
	if p, ok := conf["maxmemory-policy"]; ok && p != "noeviction" {
		ws = append(ws, "maxmemory-policy is "+p+", not noeviction: when memory is full Redis may evict a queue's "+
			"stream or its consumer group, and with them the record of which jobs are queued and which are being run; "+
			"the jobs then wait until they are re-enqueued from the database")
	}
	aof, aofOK := conf["appendonly"]
	save, saveOK := conf["save"]
	if aofOK && saveOK && aof != "yes" && strings.TrimSpace(save) == "" {
		ws = append(ws, "persistence is off (appendonly no, save \"\"): a restart of Redis empties every queue, "+
			"and the jobs queued wait until they are re-enqueued from the database; turn on AOF (appendonly yes, appendfsync everysec)")
	}
	return ws
}

// versionWarning judges the redis_version line of INFO server.
func versionWarning(info string) string {
	for _, line := range strings.Split(info, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:")
		if !ok {
			continue
		}
		parts := strings.SplitN(v, ".", 3)
		if len(parts) < 2 {
			return ""
		}
		major, err1 := strconv.Atoi(parts[0])
		minor, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil {
			return ""
		}
		if major < 6 || major == 6 && minor < 2 {
			return "version " + v + " is older than 6.2, the oldest supported: the queue's XAUTOCLAIM and XPENDING IDLE will fail"
		}
		return ""
	}
	return ""
}

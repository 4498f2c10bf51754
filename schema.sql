-- taskrunner schema for MySQL 8.0 and MariaDB 10.6+.
--
-- A superset of the original framework's DDL: a database created with the
-- original two tables is upgraded in place by `taskrunner migrate` (also run
-- at start unless [app] migrate_on_start = false), which adds tables,
-- columns and indexes, drops the original UNIQUE (task_key, status), and
-- changes no column: the original execute_task.id int(11) is widened only
-- by `taskrunner migrate --rebuild`, which copies the table (models.Rebuild).
-- All DATETIME columns hold UTC; the daemon sets the session time zone to
-- UTC, so the TIMESTAMP columns read back in UTC too.
-- The column meanings are documented in README.md ("The task table").
-- The original UNIQUE (task_key, status) goes because the engine writes
-- status: two rows of one key would collide on it. The engine itself
-- refuses the second valid row of a key.
-- schema_sqlite.sql defines the same tables for SQLite; a test
-- (models.TestSchemas_Equivalent) keeps the two in step.
-- ux__execute_task__fire_shard also serves "the history of one task, newest
-- first" (ORDER BY scheduled_at DESC).
-- run_start holds, per batch of claimed runs a replica let go at once,
-- their execute_task ids: one row instead of marking each run started.
-- A running row of a dead replica that no run_start row covers (and whose
-- started_at is NULL) never started, and is run again by another replica.

CREATE TABLE IF NOT EXISTS `task` (
  `id` int(11) NOT NULL AUTO_INCREMENT COMMENT 'primary key',
  `task_key` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL COMMENT 'unique name of the task, used in logs',
  `desc` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL COMMENT 'description',
  `execute_func` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL COMMENT 'registered function to run',
  `trigger` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL COMMENT 'cron / date / interval / text',
  `spec` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL COMMENT 'schedule in the grammar of the trigger',
  `args` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'arguments: 1,2,3 or a JSON array or object',
  `is_valid` int(11) NOT NULL COMMENT '1 = scheduled, 0 = stopped',
  `status` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL COMMENT 'ready / doing / error / disabled / done',
  `extra` text CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT ('{}') COMMENT 'JSON options: timezone, timeout, ...',
  `create_at` timestamp(0) NOT NULL DEFAULT CURRENT_TIMESTAMP(0) COMMENT 'created',
  `update_at` timestamp(0) NOT NULL DEFAULT CURRENT_TIMESTAMP(0) ON UPDATE CURRENT_TIMESTAMP(0) COMMENT 'last edit of the definition',
  `applied_spec` varchar(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'schedule the engine applied: kind and canonical spec',
  `sched_error` varchar(1024) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'why the row cannot be scheduled; empty when it is',
  `next_fire_at` datetime(6) NULL DEFAULT NULL COMMENT 'next scheduled fire time, UTC',
  `last_fire_at` datetime(6) NULL DEFAULT NULL COMMENT 'scheduled time of the latest claimed fire, UTC',
  `last_status` varchar(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'status of the latest finished run',
  `last_error` text CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL COMMENT 'error of the latest finished run',
  PRIMARY KEY (`id`) USING BTREE,
  INDEX `ix__task__task_key`(`task_key`),
  INDEX `ix__task__update_at`(`update_at`)
) ENGINE = InnoDB CHARACTER SET = utf8mb4 ROW_FORMAT = Dynamic;

CREATE TABLE IF NOT EXISTS `execute_task` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT COMMENT 'primary key; sub_task_id in the original',
  `task_id` int(11) NOT NULL COMMENT 'task.id',
  `status` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL COMMENT 'pending / queued / running / success / failed / timeout / skipped / missed / cancelled / interrupted / lost',
  `extra` text CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT ('{}') COMMENT 'JSON',
  `trace_id` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL COMMENT 'UUID of the run, on every log line',
  `create_at` timestamp(0) NOT NULL DEFAULT CURRENT_TIMESTAMP(0),
  `update_at` timestamp(0) NOT NULL DEFAULT CURRENT_TIMESTAMP(0) ON UPDATE CURRENT_TIMESTAMP(0),
  `task_key` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'task.task_key at the time of the run',
  `scheduled_at` datetime(6) NULL DEFAULT NULL COMMENT 'the fire time this run is for, UTC',
  `attempt` int(11) NOT NULL DEFAULT 1 COMMENT '1 for the first run of a fire, 2.. for retries, 0 for a missed-fires record',
  `first_id` bigint(20) NULL DEFAULT NULL COMMENT 'id of attempt 1 of the same fire',
  `source` varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'schedule / catchup / retry / misfire / manual',
  `started_at` datetime(6) NULL DEFAULT NULL COMMENT 'UTC',
  `finished_at` datetime(6) NULL DEFAULT NULL COMMENT 'UTC',
  `duration_ms` bigint(20) NULL DEFAULT NULL,
  `heartbeat_at` datetime(6) NULL DEFAULT NULL COMMENT 'lease of a running run, UTC',
  `retry_at` datetime(6) NULL DEFAULT NULL COMMENT 'not before: when a pending run may start; for a queued one, when it was last sent, UTC',
  `host` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'hostname/pid that ran it',
  `owner` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'id of the replica that claimed it',
  `error` text CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL COMMENT 'error, or panic with its stack',
  `output` text CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL COMMENT 'result and output, bounded',
  `queue` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'the named queue a worker takes the run from; empty: run by the replica that claimed it',
  `queue_epoch` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'epoch of the queue the run was last sent under; another epoch, or empty, means send it again',
  `shard` int(11) NOT NULL DEFAULT 0 COMMENT 'index of the run among the runs of its fire: a shard (extra.shards) or a worker of a broadcast; 0 otherwise',
  `shard_total` int(11) NOT NULL DEFAULT 0 COMMENT 'how many runs its fire has (shards, or workers of a broadcast); 0 for a fire of one run',
  PRIMARY KEY (`id`) USING BTREE,
  UNIQUE INDEX `ux__execute_task__fire_shard`(`task_id`, `scheduled_at`, `attempt`, `shard`),
  INDEX `ix__execute_task__create_at`(`create_at`),
  INDEX `ix__execute_task__status_heartbeat`(`status`, `heartbeat_at`),
  INDEX `ix__execute_task__queued`(`status`, `queue`, `queue_epoch`)
) ENGINE = InnoDB CHARACTER SET = utf8mb4 ROW_FORMAT = Dynamic;

CREATE TABLE IF NOT EXISTS `run_start` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT COMMENT 'primary key',
  `owner` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL COMMENT 'id of the replica that started the runs',
  `started_at` datetime(6) NOT NULL COMMENT 'when they were let go, UTC',
  `run_ids` mediumtext CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL COMMENT 'execute_task ids, as ranges: 1-500,731,900-1200',
  PRIMARY KEY (`id`) USING BTREE,
  INDEX `ix__run_start__owner`(`owner`)
) ENGINE = InnoDB CHARACTER SET = utf8mb4 ROW_FORMAT = Dynamic;

-- replica has one row per replica process (and, with the queue, per worker
-- process). Each beats heartbeat_at every second or so; one whose beats stop
-- for longer than the death timeout is declared dead (dead_at) by another,
-- and from then on it may neither start runs nor claim retries: its claims
-- that never started run elsewhere, its started runs are lost. A clean
-- shutdown sets dead_at itself (dead_reason 'stopped').
CREATE TABLE IF NOT EXISTS `replica` (
  `id` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL COMMENT 'replica or worker id, a UUID: execute_task.owner',
  `kind` varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL COMMENT 'replica / worker',
  `host` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'hostname',
  `pid` int(11) NOT NULL DEFAULT 0 COMMENT 'process id',
  `version` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'taskrunner version',
  `info` text CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT ('{}') COMMENT 'JSON: queues, ip, container, ...',
  `started_at` datetime(6) NOT NULL COMMENT 'process start, UTC',
  `heartbeat_at` datetime(6) NOT NULL COMMENT 'latest beat, UTC',
  `dead_at` datetime(6) NULL DEFAULT NULL COMMENT 'when declared dead or stopped, UTC; NULL while alive',
  `dead_reason` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'stopped, or why it was declared dead',
  `token_id` bigint(20) NULL DEFAULT NULL COMMENT 'worker_token.id a worker registered with; NULL for a replica',
  PRIMARY KEY (`id`) USING BTREE,
  INDEX `ix__replica__dead_heartbeat`(`dead_at`, `heartbeat_at`)
) ENGINE = InnoDB CHARACTER SET = utf8mb4 ROW_FORMAT = Dynamic;

-- audit has one row per change of a task definition made through the
-- operator surfaces (the HTTP API; later the CLI): who (the token's
-- name), when (UTC), from where (the remote IP), what (create, update,
-- enable, disable, delete) and the definition before and after, as JSON
-- objects of the user's columns (NULL before a create and after a
-- delete). ix__audit__task serves "the history of one task".
CREATE TABLE IF NOT EXISTS `audit` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT COMMENT 'primary key',
  `at` datetime(6) NOT NULL COMMENT 'when, UTC',
  `actor` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'who: the API token name',
  `source` varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'api / cli / sql',
  `remote` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'from where: remote IP',
  `action` varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL COMMENT 'create / update / enable / disable / delete',
  `task_id` int(11) NOT NULL COMMENT 'task.id',
  `task_key` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL DEFAULT '' COMMENT 'task.task_key after the change (before, for a delete)',
  `before_json` text CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL COMMENT 'definition before, JSON; NULL for a create',
  `after_json` text CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL COMMENT 'definition after, JSON; NULL for a delete',
  PRIMARY KEY (`id`) USING BTREE,
  INDEX `ix__audit__task`(`task_id`, `id`),
  INDEX `ix__audit__at`(`at`)
) ENGINE = InnoDB CHARACTER SET = utf8mb4 ROW_FORMAT = Dynamic;

-- worker_token is the whitelist of the tokens a worker may register with
-- (taskrunner tokens add|list|revoke). Only the SHA-256 of a token is kept:
-- the token itself is shown once, when it is added. A revoked token stays,
-- so its name is not reused and a worker that registered with it can be
-- told apart; replica.token_id names the token of each worker.
CREATE TABLE IF NOT EXISTS `worker_token` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT COMMENT 'primary key',
  `name` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL COMMENT 'who or what holds the token',
  `token_sha256` char(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'hex SHA-256 of the token; the token is not stored',
  `created_at` datetime(6) NOT NULL COMMENT 'when added, UTC',
  `revoked_at` datetime(6) NULL DEFAULT NULL COMMENT 'when revoked, UTC; NULL while valid',
  `last_used_at` datetime(6) NULL DEFAULT NULL COMMENT 'latest worker registration with it, UTC',
  PRIMARY KEY (`id`) USING BTREE,
  UNIQUE INDEX `ux__worker_token__name`(`name`),
  UNIQUE INDEX `ux__worker_token__token_sha256`(`token_sha256`)
) ENGINE = InnoDB CHARACTER SET = utf8mb4 ROW_FORMAT = Dynamic;

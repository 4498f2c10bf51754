-- taskrunner schema for SQLite (APP_ENV=local, the embedded database).
--
-- The same tables, columns, defaults and indexes as schema.sql, in SQLite's
-- types; schema.sql documents the columns, README.md their meanings, and
-- TestSchemas_Equivalent keeps the two files in step. `taskrunner migrate`
-- creates what is missing: tables, then columns (ALTER TABLE ADD COLUMN, so
-- a column added later needs a constant default), indexes and triggers.
-- Times are UTC text, 'YYYY-MM-DD HH:MM:SS.SSS', which sorts in time order;
-- DATETIME columns read back as times.

CREATE TABLE IF NOT EXISTS task (
  id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
  task_key TEXT NOT NULL,
  "desc" TEXT NOT NULL,
  execute_func TEXT NOT NULL,
  "trigger" TEXT NOT NULL,
  spec TEXT NOT NULL,
  args TEXT NOT NULL DEFAULT '',
  is_valid INTEGER NOT NULL,
  status TEXT NOT NULL,
  extra TEXT NOT NULL DEFAULT '{}',
  create_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  update_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  applied_spec TEXT NOT NULL DEFAULT '',
  sched_error TEXT NOT NULL DEFAULT '',
  next_fire_at DATETIME,
  last_fire_at DATETIME,
  last_status TEXT NOT NULL DEFAULT '',
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS ix__task__task_key ON task (task_key);
CREATE INDEX IF NOT EXISTS ix__task__update_at ON task (update_at);

-- SQLite has no ON UPDATE: update_at moves when a user edits the
-- definition, and not when the engine writes its own columns.
CREATE TRIGGER IF NOT EXISTS task_update_at AFTER UPDATE OF task_key, "desc", execute_func, "trigger", spec, args, is_valid, extra ON task
BEGIN
  UPDATE task SET update_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = NEW.id;
END;

-- execute_task.update_at keeps its insert time (MySQL's moves on every
-- write): nothing reads it, and a trigger would double each outcome write.
CREATE TABLE IF NOT EXISTS execute_task (
  id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
  task_id INTEGER NOT NULL,
  status TEXT NOT NULL,
  extra TEXT NOT NULL DEFAULT '{}',
  trace_id TEXT NOT NULL,
  create_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  update_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
  task_key TEXT NOT NULL DEFAULT '',
  scheduled_at DATETIME,
  attempt INTEGER NOT NULL DEFAULT 1,
  first_id INTEGER,
  source TEXT NOT NULL DEFAULT '',
  started_at DATETIME,
  finished_at DATETIME,
  duration_ms INTEGER,
  heartbeat_at DATETIME,
  retry_at DATETIME,
  host TEXT NOT NULL DEFAULT '',
  owner TEXT NOT NULL DEFAULT '',
  error TEXT,
  output TEXT,
  queue TEXT NOT NULL DEFAULT '',
  queue_epoch TEXT NOT NULL DEFAULT '',
  shard INTEGER NOT NULL DEFAULT 0,
  shard_total INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS ux__execute_task__fire_shard ON execute_task (task_id, scheduled_at, attempt, shard);
CREATE INDEX IF NOT EXISTS ix__execute_task__create_at ON execute_task (create_at);
CREATE INDEX IF NOT EXISTS ix__execute_task__status_heartbeat ON execute_task (status, heartbeat_at);
CREATE INDEX IF NOT EXISTS ix__execute_task__queued ON execute_task (status, queue, queue_epoch);

CREATE TABLE IF NOT EXISTS run_start (
  id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
  owner TEXT NOT NULL,
  started_at DATETIME NOT NULL,
  run_ids TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix__run_start__owner ON run_start (owner);

CREATE TABLE IF NOT EXISTS replica (
  id TEXT NOT NULL PRIMARY KEY,
  kind TEXT NOT NULL,
  host TEXT NOT NULL DEFAULT '',
  pid INTEGER NOT NULL DEFAULT 0,
  version TEXT NOT NULL DEFAULT '',
  info TEXT NOT NULL DEFAULT '{}',
  started_at DATETIME NOT NULL,
  heartbeat_at DATETIME NOT NULL,
  dead_at DATETIME,
  dead_reason TEXT NOT NULL DEFAULT '',
  token_id INTEGER
);
CREATE INDEX IF NOT EXISTS ix__replica__dead_heartbeat ON replica (dead_at, heartbeat_at);

CREATE TABLE IF NOT EXISTS audit (
  id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
  at DATETIME NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '',
  remote TEXT NOT NULL DEFAULT '',
  action TEXT NOT NULL,
  task_id INTEGER NOT NULL,
  task_key TEXT NOT NULL DEFAULT '',
  before_json TEXT,
  after_json TEXT
);
CREATE INDEX IF NOT EXISTS ix__audit__task ON audit (task_id, id);
CREATE INDEX IF NOT EXISTS ix__audit__at ON audit (at);

CREATE TABLE IF NOT EXISTS worker_token (
  id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  token_sha256 TEXT NOT NULL,
  created_at DATETIME NOT NULL,
  revoked_at DATETIME,
  last_used_at DATETIME
);
CREATE UNIQUE INDEX IF NOT EXISTS ux__worker_token__name ON worker_token (name);
CREATE UNIQUE INDEX IF NOT EXISTS ux__worker_token__token_sha256 ON worker_token (token_sha256);

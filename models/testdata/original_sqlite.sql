-- The original framework's two tables (testdata/original.sql) in SQLite's
-- types, with its sample rows: an SQLite database of the original layout.
CREATE TABLE task (
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
create_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
update_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX ux__task__task_key_status ON task (task_key, status);
INSERT INTO task VALUES (1, 'test_interval', '测试interval任务', 'test_interval', 'interval', '5', '1,2,3', 1, 'ready', '{}', '2020-04-24 16:51:03', '2020-04-24 19:13:59');
INSERT INTO task VALUES (2, 'test_date', '测试date任务', 'test_date', 'date', '2020-04-24 18:08:00', '"guess","hello"', 0, 'ready', '{}', '2020-04-24 16:51:03', '2020-04-24 18:08:03');
INSERT INTO task VALUES (3, 'test_cron', '测试cron任务', 'test_cron', 'cron', '* * * * *', '4,5,6', 0, 'ready', '{}', '2020-04-24 16:51:03', '2020-04-24 18:46:15');
CREATE TABLE execute_task (
id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
task_id INTEGER NOT NULL,
status TEXT NOT NULL,
extra TEXT NOT NULL DEFAULT '{}',
trace_id TEXT NOT NULL,
create_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
update_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

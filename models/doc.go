// Package models holds the tables — task, execute_task, run_start and
// replica — and the SQL that reads and writes them, for MySQL/MariaDB and
// for the embedded SQLite, and the migrations that create them from
// schema.sql and schema_sqlite.sql. Every query function takes a Querier
// (a *DB or a *Tx, which carry the dialect chosen once by Open), so it runs
// on a pool or in a transaction alike. There is no scheduling logic here.
package models

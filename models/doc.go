// Package models holds the two tables, task and execute_task, and the SQL
// that reads and writes them, for MySQL/MariaDB and for the embedded SQLite.
// Every query function takes a Querier (a *DB or a *Tx, which carry the
// dialect chosen once by Open), so it runs on a pool or in a transaction
// alike. There is no scheduling logic here.
package models

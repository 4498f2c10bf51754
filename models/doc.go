// Package models holds the two tables, task and execute_task, and the SQL
// that reads and writes them, for MySQL/MariaDB and for the embedded SQLite.
// Every query function takes a sqlx.ExtContext, so it runs on a pool or in
// a transaction alike. There is no scheduling logic here.
package models

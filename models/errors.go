package models

import "errors"

var (
	// ErrTaskNotFound is returned when a task row does not exist.
	ErrTaskNotFound = errors.New("task not found")
	// ErrUnsupportedDriver is returned for a database driver other than mysql or sqlite.
	ErrUnsupportedDriver = errors.New("unsupported database driver")
)

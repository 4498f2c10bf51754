package main

import (
	"fmt"
	"os"
	"time"

	"taskrunner/libs/phrase"
)

func main() {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	ref := time.Date(2026, 1, 28, 8, 0, 0, 0, loc) // Wednesday 08:00
	if len(os.Args) > 1 && os.Args[1] == "22" {
		ref = time.Date(2026, 1, 28, 22, 0, 0, 0, loc)
	}
	if len(os.Args) > 1 && os.Args[1] == "1030" {
		ref = time.Date(2026, 1, 28, 10, 30, 0, 0, loc)
	}
	for _, p := range os.Args[2:] {
		k, s, err := phrase.Parse(p, loc, ref)
		fmt.Printf("%-30s | %s %q | %v\n", p, k, s, err)
	}
}

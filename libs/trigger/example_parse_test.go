package trigger_test

import (
	"fmt"
	"time"

	"taskrunner/libs/trigger"
)

// A row's trigger and spec, and the fire times they give.
func ExampleParse() {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	from := time.Date(2026, 11, 21, 12, 0, 0, 0, shanghai)
	for _, row := range [][2]string{
		{"cron", "0 9 * * 1-5"},
		{"interval", "5"},
		{"date", "2026-12-01 08:00:00, 2026-12-05 09:00:00"},
	} {
		s, err := trigger.Parse(row[0], row[1], trigger.Options{Location: shanghai})
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s %s:", s.Kind(), s.Spec())
		for _, t := range trigger.NextN(s, from, 2) {
			fmt.Print(" ", t.In(shanghai).Format("01-02 15:04:05"))
		}
		fmt.Println()
	}
	_, err := trigger.Parse("cron", "61 * * * *", trigger.Options{})
	fmt.Println(err)
	// Output:
	// cron 0 9 * * 1-5: 11-23 09:00:00 11-24 09:00:00
	// interval 5s: 11-21 12:00:05 11-21 12:00:10
	// date 2026-12-01 08:00:00,2026-12-05 09:00:00: 12-01 08:00:00 12-05 09:00:00
	// bad spec: cron "61 * * * *": end of range (61) above maximum (59): 61
}

package trigger_test

import (
	"fmt"
	"time"

	"taskrunner/libs/trigger"
)

// L as the day of month is the last day of every month.
func ExampleParse_lastDayOfMonth() {
	s, err := trigger.Parse(trigger.KindCron, "0 23 L * *", trigger.Options{})
	if err != nil {
		panic(err)
	}
	for _, t := range trigger.NextN(s, time.Date(2028, 1, 15, 0, 0, 0, 0, time.UTC), 3) {
		fmt.Println(t.Format("2006-01-02 15:04"))
	}
	fmt.Println(s.Spec())
	// Output:
	// 2028-01-31 23:00
	// 2028-02-29 23:00
	// 2028-03-31 23:00
	// 0 23 L * *
}

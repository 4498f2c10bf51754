package phrase_test

import (
	"fmt"
	"time"

	"taskrunner/libs/phrase"
)

func ExampleParse() {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	// Relative phrases are read from ref, a stored time, never the clock.
	ref := time.Date(2026, 1, 30, 10, 0, 0, 0, shanghai)
	for _, text := range []string{
		"每周一 10:00",
		"工作日9点到17点每15分钟",
		"明天下午3点",
		"every Monday and Thursday at 7am",
		"every 15 minutes between 9:00 and 17:00 on weekdays",
		"every 90 seconds",
		"tomorrow at 9am and next Monday at 10am",
		"每天xx点",
	} {
		kind, spec, err := phrase.Parse(text, shanghai, ref)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s → %s %s\n", text, kind, spec)
	}
	// Output:
	// 每周一 10:00 → cron 0 10 * * 1
	// 工作日9点到17点每15分钟 → cron */15 9-16 * * 1-5
	// 明天下午3点 → date 2026-01-31 15:00:00
	// every Monday and Thursday at 7am → cron 0 7 * * 1,4
	// every 15 minutes between 9:00 and 17:00 on weekdays → cron */15 9-16 * * 1-5
	// every 90 seconds → interval 1m30s
	// tomorrow at 9am and next Monday at 10am → date 2026-01-31 09:00:00,2026-02-02 10:00:00
	// bad spec: cannot understand "每天xx点": "xx点" is not a time; try "每天9点" or "every day at 9:00"
}

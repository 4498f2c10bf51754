// Package phrase reads a schedule written in plain Chinese or English (the
// trigger kind "text") and translates it into a canonical cron, interval or
// date spec, which is what runs and what users are shown:
//
//	每周一 10:00                        → cron     0 10 * * 1
//	every 15 minutes between 9:00 and 17:00 on weekdays → cron */15 9-16 * * 1-5
//	每月最后一天 23:00                  → cron     0 23 L * *
//	晚上8点                             → cron     0 20 * * *
//	每5分钟                             → interval 5m0s
//	明天下午3点 (read on 2026-01-30)     → date     2026-01-31 15:00:00
//
// Install it with trigger.SetTextFunc(phrase.Parse). Parse never guesses:
// a phrase it cannot read, or could read two ways, is refused with an error
// wrapping trigger.ErrBadSpec that quotes the part not understood and
// suggests the nearest supported phrase.
//
// # Grammar
//
// A phrase is a sequence of clauses, in any order, separated or not by
// spaces. Case, full-width characters, 星期 and 礼拜 (for 周), a.m./p.m. and
// the common traditional characters (點 時 號 週 後 個 兩 鐘) do not matter. Words that change nothing are skipped: 的, 在,
// 于, 执行, 运行, 触发, 一次, run, once.
//
// Numbers are digits or Chinese numerals: 一 to 九, 两, 十, 十五, 二十三,
// 一百零五, 零五, 二〇二六 (一百五 is refused: 105 or 150?); English number
// words up to twenty, and thirty, forty, forty-five, fifty, sixty, ninety.
//
// Times of day:
//
//	9点  9时  9点半  9点整  9点一刻  9点三刻  9点15  9点15分  九点零五分  9点15分30秒
//	9:30  18:30:15  9am  9:30pm  at 9  9 o'clock  noon  midnight  中午
//	quarter past 8 (8:15)  half past 5 pm (17:30)
//	上午/早上/早晨/清晨/早 9点       0-11 as written
//	凌晨1点                          0-6 as written; 凌晨12点 is 0:00
//	中午12点, 中午1点                 11-13 as written, 1-2 are 13:00-14:00
//	下午3点, afternoon               1-11 are 13:00-23:00; 12-23 as written
//	傍晚6点                          4-7 are 16:00-19:00
//	晚上/晚 8点, evening, night        5-11 are 17:00-23:00; 晚上12点 is 24:00
//	夜里/半夜/深夜 2点                 0-5 as written, 7-11 are 19:00-23:00, 12 is 24:00
//	am, pm                           12am is 0:00, 12pm is 12:00
//
// 每晚 is 每天晚上, 午夜 is 晚上12点 (每天午夜 is cron 0 0 * * *), and
// "on the hour" and 每小时整点 add nothing to an hourly repeat.
//
// Without a part of the day the hour is on the 24-hour clock: 3点 is 03:00.
// A time without its own part of the day takes the one before it when that
// gives a later time: 晚上8点和9点 is 20:00 and 21:00, 下午3点到5点 ends at 17:00.
//
// 晚上12点 (and 24点, 24:00) is the end of the day, that is 00:00 of the next
// day: 明天晚上12点 is the day after tomorrow at 00:00, 每周五晚上12点 is
// cron 0 0 * * 6, 每月最后一天晚上12点 is cron 0 0 1 * *. Minutes after it
// are in the next day too: 每天晚上12点半 is cron 30 0 * * *, 今晚12点半 is
// tomorrow at 00:30. The English
// "midnight" is 00:00 of the day named, and is refused with a day or a date
// ("every Friday at midnight", "tomorrow at midnight"), where it is commonly
// read either way, except with Jan 1 every year, the start of the year:
// every year on Jan 1 at midnight is cron 0 0 1 1 *.
//
// A time alone is every day at that time, as the project's list of daily
// forms has it (每天9点, 晚上8点, 工作日18:30): 晚上8点 is cron 0 20 * * *,
// 9点 is 0 9 * * *, 下午3点15分 is 15 15 * * *, at 9am and 9:30pm are 0 9 * * *
// and 30 21 * * *. For once, name the day: 明天晚上8点, today at 9:30pm.
//
// # Repeating
//
// Days:
//
//	每天 每日 天天 每1天 | every day, daily, everyday, every 1 day
//	工作日 每个工作日 | weekdays, every weekday, on weekdays        (Monday to Friday)
//	周末 每个周末 | weekends, every weekend                          (Saturday, Sunday)
//	每周一 每星期天 每个礼拜一 每周一三五 每周一、周四 每周一到周五 每周六日
//	every Monday, every Monday and Thursday, every mon, wed and fri,
//	every Monday to Friday, mondays, on mondays and thursdays
//	每月1号 每月15日 每个月1号和15号 每月1、15号 每月1号到5号
//	every month on the 15th, monthly on the 1st, the 1st and 15th of every month
//	每月最后一天 每个月最后一天 每月底 每月末 | the last day of every month, every month on the last day
//	每年12月1日 每年6月1日和10月1日 | every year on Dec 1, every Dec 1, every Jan 1 and Jul 1
//
// Several days of the year are one cron, which fires on each of its days
// in each of its months: every Jan 1 and Jul 1 at 9am is 0 9 1 1,7 *, but
// Jan 1 and Jul 15 need two tasks and are refused.
//
// 周 followed by several weekday characters lists them, except where the
// next one starts the hour: 每周一三点 is Monday at 3:00, and 每周一二十点
// (Monday and Tuesday at 10:00, or Monday at 20:00?) is refused.
// A weekday with no 每, 下, 本, every, next or this (周五9点, on Friday at 9)
// is refused: it could be once or every week; the refusal suggests both at
// the time given (每周五9点, 下周五9点). A range of weekdays is every week
// without them: 周一至周五 9:00, monday to friday at 9am and mon-fri at 9
// are cron 0 9 * * 1-5. 每月31号 fires only in months that have a 31st.
//
// A day rule with times (每天9点, 工作日18:30, every Monday and Thursday at
// 7am, 每天9点和18点) is a cron; without times it fires at 00:00; times
// without a day rule are every day (above). Several
// times must share their minutes (9:00 and 18:00, not 9:30 and 18:00), since
// one cron fires at every combination of its hours and minutes.
//
// Steps:
//
//	每5分钟 每隔2小时 每两小时 每秒 每半小时 每一个半小时 每一刻钟 每2天
//	every 90 seconds, every 2 hours, every minute, every half hour,
//	every 1 hour 30 minutes, every other day, hourly
//
// A step alone is an interval, which trigger anchors so that every replica
// agrees: every 5 minutes fires at :00, :05, …; whole hours fall on the
// hour of the task's zone (every hour in Kolkata fires at 10:00, not
// 10:30); whole days fire at local 00:00 (every 2 days is 00:00 every
// other day, counted from 1970-01-01, all year). 每天, every day and every
// 1 day are the exception: a calendar day, cron 0 0 * * *.
// Weeks, months and years are refused as steps (每周, every 2 weeks, 每月):
// say the weekday or the day of the month. 每隔一天 is refused (every day, or
// every other day?).
//
// A step shorter than a day with days, a range of hours, or both, is a
// cron: 工作日每小时 is 0 * * * 1-5. So is a step of whole hours with a
// minute of the hour: 每小时的第15分钟 is 15 * * * *, 每个小时的30分 is
// 30 * * * *, 每2小时的第15分钟 is 15 */2 * * * (每小时15分钟, which could be
// a length, is refused). Ranges:
//
//	9点到18点 9点至18点 9:00-17:00 从9点到18点 在9点到17点之间
//	between 9:00 and 17:00, from 9am to 5pm, from 9 to 17, 9am-5pm
//
// The end of a range is exclusive: the task fires at start, start+step, …
// while before the end. 每天9点到18点每半小时 is */30 9-17 * * * (9:00 to
// 17:30, not 18:00); every 15 minutes between 9:00 and 17:00 on weekdays is
// */15 9-16 * * 1-5 (last fire 16:45). A range cannot cross midnight. The
// fire times must again be the same minutes in every hour: every 7 minutes
// from 9:00 to 11:00 is refused. Seconds appear, as a sixth field first,
// only when a fire time needs them (every 30 seconds between 9:00 and 9:02
// is */30 0,1 9 * * *).
//
// The last day of the month is the day-of-month L that trigger reads (Jan
// 31, Feb 28 or 29, Apr 30, …): 每月最后一天23:00 and last day of every month
// at 23:00 are cron 0 23 L * *, 每月最后一天 is 0 0 L * *, and its 24:00
// (每月最后一天晚上12点) is the 1st at 00:00, 0 0 1 * *.
//
// # Once
//
// Delays from the reference time, to the second:
//
//	30秒后 10分钟后 2小时后 半小时后 一个半小时后 1小时30分钟后 3天后 过10分钟后
//	in 30 seconds, in 2 hours, in an hour, in half an hour, in 3 days,
//	2 hours from now, 2 hours later
//
// Seconds to hours are exact; days and weeks are calendar days at the
// reference's time of day (3天后 across a daylight-saving change is 71 or
// 73 hours later). 3天后9点 is 9:00 three days on. Months and years are
// refused. A delay ending in the second pass of a repeated hour is refused:
// a date spec names the first pass.
//
// Days, each with a time:
//
//	今天 明天 后天 大后天 今晚 明晚 明早 | today, tomorrow, the day after tomorrow, tonight
//	下周五 (Friday of next week; weeks start on Monday) | next Friday (the first Friday after today)
//	本周五, 这周五 (Friday of this week) | this Friday (Friday of this week, Monday to Sunday)
//	下个月1号, 下月15日 (of next month), 本月31号, 这个月31号 (of this month)
//	2026年12月1日 二〇二六年十二月一日 12月1号 2026-12-01 2026/12/01 2026-12-01T08:00
//	Dec 1, December 1st, 2026, 1 Dec 2026, the 1st of December, on 2026-12-01
//
// A date without a year is in the reference's year. 今晚/tonight and
// 明早 imply the part of the day for a time without one (今晚8点 is 20:00).
// A time whose own part of the day contradicts them is refused, as
// "tomorrow morning at 8pm" is: 今晚 and tonight take 16:00 to 24:00 and
// the early hours after (tonight at 1am and 今晚凌晨2点 are the next day's);
// 今早 and 明早 take 0:00 to 12:00 (明早下午3点 is refused).
//
// Lists of one-time items are joined by 和, 及, 、, a comma, a semicolon or
// "and": 2026年12月1日 08:00 和 2026年12月5日 09:00, tomorrow at 9am and next
// Monday at 10am, 明天9点和15点. Each item needs its own day: 明天和后天9点 is
// refused.
//
// A one-time instant not after the reference time (今天8点 read at 10:00) is
// refused as in the past, never moved to another day. A wall time in a
// daylight-saving gap fires when the gap ends, as trigger does for dates
// (明天2:30 on 2026-03-08 in New York is 03:00). Relative phrases need a
// reference time; without one they are refused.
//
// # Refused
//
// Besides the above: an empty phrase, a number with no unit (every 5), an
// hour, minute or day out of range (25点, 每月32号, 2月30日, every Monday at
// 25:00), a part of the day that does not fit the hour (上午12点, 晚上3点),
// two clauses giving the same thing (每天 每周一), a repeat mixed with a
// one-time day (每天9点 明天), a phrase of more than 400 characters.
package phrase

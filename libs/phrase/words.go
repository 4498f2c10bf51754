package phrase

import (
	"slices"
	"strings"
)

// The tables below are read-only after package initialisation.

// normaliser folds the spellings of one word onto the one the grammar knows:
// traditional characters, 星期/礼拜 for 周, a.m./p.m.
// Longer keys come first because the replacer tries them in argument order.
var normaliser = strings.NewReplacer(
	"星期", "周", "禮拜", "周", "礼拜", "周", "週", "周",
	"點鐘", "点", "点钟", "点", "點", "点", "時", "时",
	"鐘頭", "钟头", "鐘", "钟", "後", "后", "號", "号", "兩", "两", "個", "个",
	"a.m.", "am", "p.m.", "pm", "&", " and ",
	// Shorthands users type, spelt out: 每晚 is every evening, 午夜 the end
	// of the day (晚上12点), and an hourly repeat is already on the hour.
	"每晚上", "每天晚上", "每晚", "每天晚上", "午夜12点", "晚上12点", "午夜", "晚上12点", "每小时整点", "每小时", "on the hour", "",
)

// zhWeekdayRunes are the characters after 周 that name a weekday, numbered
// as cron numbers them (0 is Sunday). 周7 is Sunday too.
var zhWeekdayRunes = map[rune]int{
	'一': 1, '二': 2, '三': 3, '四': 4, '五': 5, '六': 6, '日': 0, '天': 0,
	'1': 1, '2': 2, '3': 3, '4': 4, '5': 5, '6': 6, '7': 0,
}

type weekdayWord struct {
	day    int  // cron numbering, 0 is Sunday
	plural bool // "mondays": a repeating day even without "every"
}

var enWeekdays = map[string]weekdayWord{
	"sunday": {0, false}, "sun": {0, false}, "sundays": {0, true},
	"monday": {1, false}, "mon": {1, false}, "mondays": {1, true},
	"tuesday": {2, false}, "tue": {2, false}, "tues": {2, false}, "tuesdays": {2, true},
	"wednesday": {3, false}, "wed": {3, false}, "wednesdays": {3, true},
	"thursday": {4, false}, "thu": {4, false}, "thur": {4, false}, "thurs": {4, false}, "thursdays": {4, true},
	"friday": {5, false}, "fri": {5, false}, "fridays": {5, true},
	"saturday": {6, false}, "sat": {6, false}, "saturdays": {6, true},
}

var enMonths = map[string]int{
	"january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3,
	"april": 4, "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7,
	"august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
	"october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}

var enNumbers = map[string]int{
	"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
	"eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
	"fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
	"nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45,
	"fifty": 50, "sixty": 60, "ninety": 90,
}

var zhDigits = map[rune]int{
	'零': 0, '〇': 0, '一': 1, '二': 2, '两': 2, '三': 3, '四': 4,
	'五': 5, '六': 6, '七': 7, '八': 8, '九': 9,
}

var zhPowers = map[rune]int{'十': 10, '百': 100, '千': 1000}

// periods are the words for a part of the day written before the hour.
var periods = map[string]period{
	"凌晨": early,
	"早上": morning, "早晨": morning, "清晨": morning, "上午": morning, "早": morning,
	"中午": noon, "正午": noon,
	"下午": afternoon, "午后": afternoon,
	"傍晚": dusk,
	"晚上": evening, "晚间": evening, "夜晚": evening, "晚": evening,
	"夜里": night, "半夜": night, "深夜": night,
	"morning": morning, "afternoon": afternoon, "evening": evening, "night": evening,
}

var ampm = map[string]period{"am": am, "pm": pm}

// units are the lengths a repeat or a delay is counted in.
var units = map[string]unit{
	"秒": second, "秒钟": second, "分": minute, "分钟": minute, "刻钟": quarter,
	"小时": hour, "钟头": hour, "天": day, "日": day, "周": week, "月": month, "年": year,
	"s": second, "sec": second, "secs": second, "second": second, "seconds": second,
	"m": minute, "min": minute, "mins": minute, "minute": minute, "minutes": minute,
	"h": hour, "hr": hour, "hrs": hour, "hour": hour, "hours": hour,
	"d": day, "day": day, "days": day, "week": week, "weeks": week,
	"month": month, "months": month, "year": year, "years": year,
}

type dayWord struct {
	offset int    // days after the reference day
	period period // the part of the day it implies (今晚, tonight)
}

var namedDays = map[string]dayWord{
	"今天": {0, anyPeriod}, "今日": {0, anyPeriod}, "明天": {1, anyPeriod}, "明日": {1, anyPeriod},
	"后天": {2, anyPeriod}, "大后天": {3, anyPeriod},
	"今早": {0, morning}, "明早": {1, morning}, "今晚": {0, evening}, "今夜": {0, evening}, "明晚": {1, evening},
	"today": {0, anyPeriod}, "tonight": {0, evening}, "tomorrow": {1, anyPeriod},
	"day after tomorrow": {2, anyPeriod}, "the day after tomorrow": {2, anyPeriod},
}

// Connectors between the items of a list, and between the ends of a range.
var (
	listWords  = []string{",", "、", "和", "及", "与", "and"}
	rangeWords = []string{"到", "至", "-", "~", "to", "through", "thru"}
	sepWords   = []string{",", "、", ";", "和", "及", "以及", "与", "还有", "and", "plus"}
	fillWords  = []string{"的", "在", "于", "执行", "运行", "触发", "一次", "run", "once"}

	listOrRangeWords = slices.Concat(listWords, rangeWords)
	// windowEndWords end a time window: "from 9 to 17", "9 until 17".
	windowEndWords = slices.Concat(rangeWords, []string{"until", "till"})
)

func isRangeWord(w string) bool { return slices.Contains(rangeWords, w) }

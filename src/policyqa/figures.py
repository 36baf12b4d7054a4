"""Figures in text and the questions that ask for them: amounts, rates, durations, counts, years.

Shared by verification (does the evidence give the kind of figure asked for?) and the
answer stage (prefer the sentence that gives it).
"""

from __future__ import annotations

import re
from collections.abc import Collection

from .text import is_chinese

_DIGITS = r"[0-9０-９]"
_CN_NUMERAL = "零〇一二三四五六七八九十百千万亿两"
# A number in digits or Chinese numerals. A Chinese numeral needs a digit character: "亿元以上"
# alone is not an amount.
NUMBER = rf"(?:{_DIGITS}+(?:[.,]{_DIGITS}+)*|[{_CN_NUMERAL}]*[零〇一二三四五六七八九十两][{_CN_NUMERAL}]*)"
# A sum is often set as a multiple of another: 处违法所得一倍以上五倍以下的罚款, 增缴五至十倍掘动修复费.
_MULTIPLE_KINDS = "罚款|罚金|费|价款|金额|赔偿金|违约金"
_MULTIPLE_OF_A_SUM = rf"{NUMBER}倍(?:以上|以下)?[^，。；、]{{0,12}}?(?:{_MULTIPLE_KINDS})"
# Or as a share of another: 按照房地产登记价格百分之五的标准处以罚款, 处合同金额5%以上10%以下的罚款.
_SHARE = rf"(?:百分之[{_CN_NUMERAL}]+|{_DIGITS}+(?:\.{_DIGITS}+)?\s*[%％])"
_SHARE_OF_A_SUM = rf"{_SHARE}(?:以上|以下)?[^，。；、]{{0,12}}?(?:{_MULTIPLE_KINDS})"
# 万 and 亿 alone are a sum only where no noun follows: 2万至5万元, not 每五万常住人口.
_SUM_IN_YUAN = (
    rf"{NUMBER}\s*(?:多)?(?:元|万元|亿元|(?:万|亿)(?=以上|以下|左右|至|到|美元|港元|欧元|[^\u4e00-\u9fff]|$))"
)
MONEY = re.compile(rf"{_SUM_IN_YUAN}(?:人民币)?|{_MULTIPLE_OF_A_SUM}|{_SHARE_OF_A_SUM}")
# A rate may be set as a multiple of another (一年期贷款市场报价利率四倍, 同期贷款利率的1.5倍).
RATE = re.compile(
    rf"{_SHARE}|[{_CN_NUMERAL}]分之[{_CN_NUMERAL}]+|[{_CN_NUMERAL}]成"
    rf"|率的?{NUMBER}倍"
)
# Not an ordinal: 第十八条 numbers an article and counts nothing.
COUNT = re.compile(
    rf"(?<![第{_CN_NUMERAL}]){NUMBER}\s*(?:个|家|项|所|名|人|件|年|倍|次|条|批|处|座|户|只|头|匹|辆|艘|台|株|棵|分(?![钟之]))"
    rf"|{_DIGITS}+"
)
# Laws set many deadlines in working days (二十个工作日) and short ones in minutes or seconds (六十秒内出动).
# 学时 and 课时 are hours of study or teaching: 每年不少于90学时. 半年 is half a year.
DURATION = re.compile(rf"(?:{NUMBER}|半)\s*(?:个)?(?:工作日|年|月|日|天|周|小时|学时|课时|分钟|秒)")
# A quantity in a unit of weight, area, volume, length or power: 五十万吨, 200平方米.
_UNITS_ZH = "吨|公斤|千克|斤|毫克|微克|克|平方米|平方公里|立方米|公里|千米|米|千瓦|兆瓦|亩|公顷|升"
QUANTITY = re.compile(rf"{NUMBER}\s*(?:万|亿)?(?:{_UNITS_ZH})")
# A time of day: 晚上十点, 22时, 22:00.
TIME_OF_DAY = re.compile(rf"{NUMBER}\s*(?:点|时)(?![间期候代])|(?<![0-9])[0-2]?[0-9][:：][0-5][0-9](?![0-9])")
YEAR = re.compile(r"(?<![0-9])(19[5-9][0-9]|20[0-9]{2})(?![0-9])")
# Where a part of a question ends ("公告期至少多长？涉及房屋征收时还有什么程序？"): at a question mark or a
# semicolon; in English also at a comma before the next part's question word (", how close …",
# ", and what …").
_ENGLISH_QUESTION_WORD = r"\b(?:how|what|which|who|when|where|whether)\b"
_CHINESE_PART_END = re.compile(r"[？?；;]")
_ENGLISH_PART_END = re.compile(rf"[?;]|,\s*(?:and\s+)?(?={_ENGLISH_QUESTION_WORD})", re.I)


def part_end_of(chinese: bool) -> re.Pattern[str]:
    """What ends a part of a question in its language."""
    return _CHINESE_PART_END if chinese else _ENGLISH_PART_END


_ASKS_IN_ENGLISH = re.compile(_ENGLISH_QUESTION_WORD, re.I)


def question_parts(question: str, chinese: bool) -> list[str]:
    """The parts of a question that asks several things ("…犬绳长度有什么限制？…罚多少钱？"), or the one it asks.

    An English stretch that asks nothing ("Under the rules, ") belongs to the part after it.
    """
    parts, start = [], 0
    for match in part_end_of(chinese).finditer(question):
        stretch = question[start : match.end()]
        if chinese or _ASKS_IN_ENGLISH.search(stretch) or "?" in stretch:
            parts.append(stretch)
            start = match.end()
    parts.append(question[start:])
    return [part for part in parts if part.strip(" ？?；;，,")]


# A day or week named relative to the asking ("明天上海会下雨吗", "yesterday's decision", "this
# weekend"): like a year, the texts answer for it only if they name it. 周末 alone is no such day:
# rules speak of weekends and holidays (周末和节假日).
RELATIVE_DAY = re.compile(
    r"今天|明天|昨天|后天|前天|今晚|今日|明日|昨日|(?:本|这|这个|下|下个|上|上个)(?:周末|星期|礼拜)|本周|这周|下周|上周"
    r"|\b(?:today|tonight|tomorrow|yesterday|(?:this|next|last) week(?:end)?)\b",
    re.I,
)

# Words that ask for a figure. General question forms only: "how much", a money noun
# followed by 多少, "rate"/比例; a pattern that fits only one question is not a rule.
# 奖励 is left out: "提取多少奖励" asks for a share as often as for an amount.
# Words between "what" and a money noun that do not say which sum: "what happens to fees" asks no sum.
_NOT_WHICH = r"(?:is|are|was|were|do|does|did|to|of|for|on|in|the|happens?|must|can|may|should|will)"
_MONEY_NOUNS = (
    "经费|资金|资本|费用|补贴|补助|奖金|罚款|罚金|税款|工资|价格|押金|保证金|赔偿金|补偿金|违约金|津贴|抚恤金"
)
_OTHER_UNITS = r"(?:个)?(?:工作日|年|月|日|天|周|小时|分钟|次|倍|人|名|家|项|平方|米|公里|吨|亩|公顷)"
ASKS_MONEY = re.compile(
    # "By how much can it be extended" asks the size of a change, whose kind its verb says.
    rf"(?<!\bby )\bhow much\b(?!\s+(?:time|longer|(?:advance\s+|prior\s+)?notice))"
    rf"|\bamount\b|\bin (?:yuan|rmb)\b|\bcost\b"
    # "What budget principle" asks for a principle: a noun before another names that other thing.
    r"|\bbudget(?:s|ed)?\b(?!\s+(?!(?:for|of|is|are|was|were|to|in|on|at|by|and|or|if|when|that|this)\b)[a-z])"
    # 多少 followed by a unit of another kind of figure asks for that: 赔偿金按多少年算, 工资多少天内支付.
    rf"|(?:{_MONEY_NOUNS}|金额|数额|预算).{{0,6}}(?:多少(?!{_OTHER_UNITS})|几何|多大|多高)"
    rf"|多少.{{0,4}}(?:{_MONEY_NOUNS}|钱|元|费)|几块钱"  # 几块钱: the everyday "how many yuan"
    # A sum a law names with 金 (海域使用金, 保证金): 每亩每年要交多少海域使用金.
    r"|多少[^，,。？?；;、]{0,6}金(?=[？?。，,；;]|$)",
    re.I,
)

# The kinds of sum a law sets, said just after the sum (1万元以上5万元以下罚款, 2倍以上5倍以下罚款).
_SUM_KINDS = f"{_MONEY_NOUNS}|价款|奖励"
_SUM_BOUND = r"(?:以上|以下|左右|的|以内|至|到)*"
# The kind follows a range's second sum: 1万元以上5万元以下罚款.
_KIND_AFTER_SUM = re.compile(rf"^{_SUM_BOUND}(?:{_SUM_IN_YUAN}{_SUM_BOUND})?({_SUM_KINDS}|费)")
_KIND_IN_SUM = re.compile(rf"({_MULTIPLE_KINDS})$")  # a multiple's kind ends it


def sums_only_of_other_kinds(sentence: str, kinds_asked: Collection[str]) -> bool:
    """Whether every sum in ``sentence`` is said to be of a kind, none of them one of ``kinds_asked``.

    "How many yuan of subsidy …" (补贴) is not answered by 处1万元以上5万元以下罚款 nor by
    骗取金额2倍以上5倍以下罚款: fines, in the article on subsidies obtained by fraud.
    """
    if not kinds_asked:
        return False
    kinds = []
    for match in MONEY.finditer(sentence):
        said = _KIND_IN_SUM.search(match.group(0)) or _KIND_AFTER_SUM.match(sentence[match.end() :])
        if said is None:
            return False  # a sum of no stated kind may be the one asked for
        kinds.append(said.group(1))
    return bool(kinds) and not any(k in asked or asked in k for k in kinds for asked in kinds_asked)


# A fee a rendering names (费, 年费, 登记费), not a verb that ends in 费 (消费 consume, 浪费 waste,
# 免费 free of charge, 花费 and 耗费 spend).
_FEE_RENDERING = re.compile(r"(?<!\S)(?![消浪免花耗]费)\S{0,3}费(?!\S)")


def sum_kinds_named(words: str) -> list[str]:
    """The kinds of sum (补贴, 罚款, 费 …) that ``words`` (a question's renderings, spaced) name."""
    kinds = set(re.findall(_SUM_KINDS, words))
    if _FEE_RENDERING.search(words):
        kinds.add("费")
    return sorted(kinds)


# "What fine does … set", "what is the lowest wage", "what heating price": a sum named by what it
# pays, after at most two words that say which.
ASKS_SUM_BY_NOUN = re.compile(
    rf"\b(?:what\s+(?:is\s+the\s+|are\s+the\s+)?(?:(?!{_NOT_WHICH}\b)[\w-]+\s+){{0,2}}"
    # "How large a fine …", "how high a fee": the sum asked by its size.
    r"|how\s+(?:large|big|high|heavy|steep|severe)\s+(?:an?\s+|the\s+)?)"
    r"(?P<noun>fines?|fees?|premiums?|prices?|salar(?:y|ies)|wages?|subsid(?:y|ies)|allowances?|capital)\b",
    re.I,
)
ASKS_RATE = re.compile(
    # An intensity (R&D, energy, carbon intensity: 研发投入强度) is a ratio to output.
    r"\b(?:rate|percentage|percent|proportion|ratio|intensity)\b|\bwhat share\b|\bshare of\b"
    # A change's extent (增长幅度, 涨幅) is a share of what it changes: 增长幅度不低于百分之五. A fine's
    # 幅度 is its range, in yuan.
    r"|比例|比率|占比|百分之几|率(?:是|为)?多少|率有多高|强度(?:是|为)?多少"
    r"|(?:(?:增长|上涨|下降|提高|降低)幅度|涨幅|增幅|降幅)[^，,。？?；;]{0,6}多少",
    re.I,
)
# "How many hours", "how many service hours": a period asked in its unit (the group).
_HOW_MANY_PERIODS = r"\bhow many\s+(?:[\w-]+\s+){0,2}?(working days|hours|minutes|seconds|days|weeks|months|years)\b"
# A bound on a period ("the minimum period", "the time limit") asks for it as "how long" does.
ASKS_DURATION = re.compile(
    r"how long|how soon|how quickly|how promptly|how fast|how early|how far (?:ahead|in advance)"
    r"|how much (?:time|(?:advance\s+|prior\s+)?notice)\b"
    rf"|{_HOW_MANY_PERIODS}|\btime limits?\b|\b(?:with)?in what time\b"
    r"|\b(?:minimum|maximum|shortest|longest|what)\s+(?:time\s+)?period\b"
    # "What are the general and the outer limitation periods", "what is the deadline for …": the period
    # named after a few words that say which.
    r"|\b(?:what(?:'s|\s+is|\s+are|\s+was|\s+were)|which\s+(?:is|are|was|were))\s+the\s+(?:[\w-]+\s+){0,5}?"
    r"(?:periods?|deadlines?)\b"
    # 十几分钟 is a dozen minutes or so, told, not asked.
    # 时限 is a time limit as "time limit" is, whatever asks about it (报告时限是怎么规定的).
    r"|多长时间|多久|多长|期限是多|期限为多|时限|(?:多少|(?<![十百千万])几)(?:个)?(?:工作日|年|天|日|月|小时|分钟|秒)",
    re.I,
)
# "How often …" asks how many times in a period: 每月至少进行一次, 每日巡查, 定期.
# The verb may stand between the asking and the once: 多久开一次, 多长时间检查一次, 几年换届一次.
ASKS_FREQUENCY = re.compile(
    r"\bhow often\b|\bhow frequently\b|\bat what intervals?\b"
    r"|(?:多久|多长时间|(?:几|多少)(?:年|个月|天|周))[^？?，,。；;]{0,4}一次(?!性)|每隔多久|频次|频率"
    # "每个月召开几次": times in a period, as 每月至少召开一次 gives them.
    r"|每(?:个)?(?:年|月|季度|季|周|星期|天|日)[^？?，,。；;]{0,8}(?:几|多少)(?:次|回)",
    re.I,
)
# Not an ordinal: 第26次常务会议 numbers a meeting, and says nothing of how often they are held.
FREQUENCY = re.compile(
    rf"每(?:隔)?(?:{NUMBER})?(?:个)?(?:日|天|周|星期|月|季度|季|半年|年|小时)"
    rf"|(?<![第{_CN_NUMERAL}0-9０-９]){NUMBER}\s*(?:次|回)|定期"
)
# Sites and buildings are counted by 处 and 座 (多少处湿地, 几座桥), households by 户 (每多少户).
# Points (分: 记6分, 加10分) are counted too, not minutes (分钟) nor fractions (三分之一).
# 哪几个 asks which (哪几个区, 哪几个维度), not how many; "the maximum number of members" asks how many.
ASKS_COUNT = re.compile(
    r"how many|\b(?:maximum|minimum|max|min|largest|smallest|what)\s+number\s+of\b"
    r"|多少(?:个|家|项|所|名|人|件|次|条|处|座|户|分(?![钟之]))"
    # 好几个 says "several", and asks nothing; 第几条 asks which article, not how many.
    r"|(?<![哪好第十百千万])几(?:个|家|项|所|次|处|座|户|条|分(?![钟之]))",
    re.I,
)
ASKS_QUANTITY = re.compile(
    rf"多少(?:万|亿)?(?:{_UNITS_ZH})"
    r"|\bhow much\s+(?:[\w-]+\s+){0,2}(?:space|land|area|floor|room|water|electricity|energy)\b"
    r"|how many (?:tons|tonnes|kilograms|square (?:metres|meters)|cubic (?:metres|meters)"
    r"|(?:kilo)?(?:metres|meters)|hectares|kilowatts|litres|liters|(?:milli|micro)?grams)\b"
    # "the maximum number of litres": a quantity in its unit, not a count.
    r"|\b(?:number|amount|quantity|volume)\s+of\s+(?:tons|tonnes|kilograms|litres|liters|cubic (?:metres|meters))\b"
    # A length, height or distance bounded or asked by name: "the maximum leash length", 牵引绳最长能多长.
    r"|\b(?:maximum|minimum|max|min|what)\s+(?:[\w-]+\s+){0,2}(?:length|height|width|depth|distance)\b"
    r"|(?:绳|长度|距离|高度|宽度|深度|半径)[^？?，,。；]{0,4}多(?:长|高|宽|深|远)",
    re.I,
)
# An area is given in a unit of area (二百平方米, 十公顷): 7.8公里 is a length, no area.
_AREA_UNITS = "平方米|平方公里|平方千米|公顷|亩"
AREA = re.compile(rf"{NUMBER}\s*(?:万|亿)?(?:{_AREA_UNITS})")
ASKS_AREA = re.compile(
    rf"多少(?:万|亿)?(?:{_AREA_UNITS})|多大(?:的)?面积|面积(?:是|有|为)?多(?:少|大)"
    r"|\bhow (?:many|much)\s+(?:square\s+(?:kilo)?(?:metres|meters)|hectares|mu)\b"
    r"|\bhow (?:large|big)\s+(?:an?\s+|the\s+|its\s+)?area\b",
    re.I,
)
# A year is a year's number (2019年, 二〇一九年): 每10年 says how often, not when.
YEAR_GIVEN = re.compile(r"(?<![0-9])(?:19|20)[0-9]{2}(?![0-9])|[零〇一二三四五六七八九]{4}年")
ASKS_YEAR = re.compile(r"\b(?:which|what)\s+year\b|哪一年|哪年|何年", re.I)
# A multiple is said with 倍 (三倍以上); "how many times a year" asks how often.
MULTIPLE = re.compile(rf"{NUMBER}\s*倍")
ASKS_MULTIPLE = re.compile(r"几倍|多少倍|\bhow many times\b(?!\s+(?:a|an|per|each|every)\b)|\bwhat multiple\b", re.I)
# A discount is given as 八折, a share off (50%), half price or free of charge.
DISCOUNT = re.compile(rf"{NUMBER}\s*折(?!旧|算|合)|半价|免费|减半|{RATE.pattern}")
ASKS_DISCOUNT = re.compile(
    r"几折|打多少折|折扣(?:是|有|为)?多少|优惠(?:是|有|为)?多少"
    r"|\bwhat discount\b|\bhow (?:much|big|large)\s+(?:of\s+)?(?:a\s+)?discount\b",
    re.I,
)
# Opening hours are hours of the day (八时至十八时): 开放时间 may be months as well, and is left out.
# "During which hours …" asks when in the day, as "what time" does; "how many hours" asks how long.
ASKS_TIME_OF_DAY = re.compile(
    r"几点|几时(?!间)|(?<!in )\bwhat time\b|\bat what hour\b|\b(?:which|what) hours\b"
    r"|\b(?:opening|business|visiting|office) hours\b",
    re.I,
)


# "How much of the heating fee must be refunded" asks for a part of a whole: a share of it
# (百分之五十) or a sum; asked before "how much" alone asks for money.
ASKS_PART = re.compile(r"\bhow much of (?:the|a|an|its|their|his|her|this|that)\b", re.I)
PART = re.compile(f"{RATE.pattern}|{MONEY.pattern}")

# A currency the question names says what kind of figure it wants before any other word does:
# "what overtime rate in yuan" asks for an amount, and a percentage does not answer it; "how many
# yuan", "how many thousand yuan" ask for a sum, not a count.
NAMES_CURRENCY = re.compile(
    r"\b(?:in|how many(?: \w+)?) (?:yuan|rmb|renminbi)\b|多少(?:钱|元|万元|亿元)|几(?:元|万元)", re.I
)

# "How much … space" asks for a quantity before "how much" asks for money.
_ASKED = (
    ("year", ASKS_YEAR, YEAR_GIVEN),
    ("multiple", ASKS_MULTIPLE, MULTIPLE),
    ("discount", ASKS_DISCOUNT, DISCOUNT),
    ("area", ASKS_AREA, AREA),
    ("amount", NAMES_CURRENCY, MONEY),
    ("rate", ASKS_RATE, RATE),
    ("part", ASKS_PART, PART),
    ("quantity", ASKS_QUANTITY, QUANTITY),
    ("amount", ASKS_MONEY, MONEY),
    ("amount", ASKS_SUM_BY_NOUN, MONEY),
    ("time", ASKS_TIME_OF_DAY, TIME_OF_DAY),
    ("frequency", ASKS_FREQUENCY, FREQUENCY),
    ("duration", ASKS_DURATION, DURATION),
    ("count", ASKS_COUNT, COUNT),
)
# A figure asked for by the period it runs over ("a daily fine", "每日罚款多少") is given only with
# that period: 按日连续处罚 answers it, a fine of ten thousand yuan does not. "a day", "a year" are
# left out: "more than a year ago" and "within a month" say when, not per what.
_PERIODS = (
    (r"\bdaily\b|\b(?:per|each|every)\s+day\b|每日|每天|按日", r"每日|每天|按日|日利率|日息"),
    (r"\bmonthly\b|\b(?:per|each|every)\s+month\b|每月|按月", r"每月|每个月|按月|月利率|月息|月工资"),
    (r"\bhourly\b|\b(?:per|each|every)\s+hour\b|每小时|按小时", r"每小时|按小时|小时工资"),
    (r"\byearly\b|\bper annum\b|\b(?:per|each|every)\s+year\b|每年|按年", r"每年|按年|年利率|年息|年度"),
    # A figure per person ("人均公园绿地面积") is not one for a whole site.
    (r"\bper (?:capita|person|head|resident|inhabitant)\b|人均|每人", r"人均|每人|每位|每名"),
)
_PERIOD_PATTERNS = tuple((re.compile(asks, re.I), re.compile(given)) for asks, given in _PERIODS)


def period_asked(question: str) -> re.Pattern[str] | None:
    """The words that give a figure's period (or the person it is per) when the question asks for an amount,
    rate or quantity per period."""
    if figure_kind(question) not in ("amount", "rate", "part", "quantity", "area"):
        return None
    return next((given for asks, given in _PERIOD_PATTERNS if asks.search(question)), None)


# How an answer names the kind of figure the texts do not give (English, Chinese).
FIGURE_NAMES = {
    "rate": ("rate or share", "比例"),
    "amount": ("amount", "金额"),
    "part": ("share or amount", "比例或金额"),
    "duration": ("period", "期限"),
    "frequency": ("frequency", "频次"),
    "count": ("number", "数量"),
    "quantity": ("quantity", "数量"),
    "time": ("time of day", "时刻"),
    "year": ("year", "年份"),
    "multiple": ("multiple", "倍数"),
    "discount": ("discount", "折扣"),
    "area": ("area", "面积"),
}


# A question that asks which factors or circumstances decide a figure asks for those, not for
# the figure: "What factors … list for setting the amount?", "数额要参考哪些因素确定？". Unless it
# also asks for the figure in so many words ("… and how much is it?").
_ASKS_CRITERIA = re.compile(
    r"\b(?:what|which)\s+(?:\w+\s+)?(?:factors|circumstances|conditions|criteria|considerations)\b"
    r"|哪些(?:因素|情形|情节|条件)",
    re.I,
)
# A question that asks how a figure is worked out ("how can the amount … be worked out", 如何计算)
# asks for the method; one that asks who sets it ("who decides how much …", 由谁确定) for the body.
_ASKS_METHOD = re.compile(
    r"\bhow\b[^?]{0,80}\b(?:calculated|computed|worked out|determined|assessed|counted|reckoned)\b"
    r"|(?:如何|怎么|怎样)(?:计算|算|确定|认定|核定)",
    re.I,
)
_ASKS_WHO_SETS = re.compile(
    r"\b(?:who|which\s+\w+(?:\s+\w+)?)\s+(?:decides|determines|sets|fixes|approves)\b|由谁(?:确定|决定|制定|核定)",
    re.I,
)
_ASKS_FIGURE_ITSELF = re.compile(
    r"\bhow (?:much|long|many|far ahead|far in advance|early)\b|多少|多久|多长|几(?:年|个|天|月|倍|成)", re.I
)


def figure_kind(question: str) -> str | None:
    """The kind of figure asked for: a key of ``FIGURE_NAMES`` (rate, amount, duration, area …)."""
    asking = _parts_asking_figures(question)
    for kind, asks, _ in _ASKED:
        if asks.search(asking):
            return kind
    return None


# A period asked in a unit ("how many hours", "几天") is given in that unit or one near it: 二十日内 or
# 满一年 answer no "how many hours of pro bono work", 三十日 may answer "how many days" and 十八个月
# "how many years".
_UNIT_ASKED = re.compile(rf"{_HOW_MANY_PERIODS}|(?:多少|几)(?:个)?(工作日|小时|分钟|秒|天|日|周|星期|月|年)", re.I)
_DAYS, _WEEKS, _MONTHS, _YEARS = "工作日|日|天|周|星期", "周|星期|日|天", "月|年", "年|月"
# The units that give a period asked in each unit, by the unit's English or Chinese name.
_UNITS_OF = {
    "hours": "小时|学时|课时",
    "minutes": "分钟|秒",  # 六十秒 answers "within how many minutes"
    "seconds": "秒",
    "days": _DAYS,
    "weeks": _WEEKS,
    "months": _MONTHS,
    "years": _YEARS,
}
_UNITS_OF |= {
    "小时": "小时|学时|课时",
    "分钟": "分钟|秒",
    "秒": "秒",
    "工作日": _DAYS,
    "天": _DAYS,
    "日": _DAYS,
    "周": _WEEKS,
    "星期": _WEEKS,
}
_UNITS_OF |= {"月": _MONTHS, "年": _YEARS}


def _duration_in_unit_asked(question: str) -> re.Pattern[str] | None:
    """The pattern of a period in the unit the question asks it in, if it names one."""
    if (match := _UNIT_ASKED.search(question)) is None:
        return None
    unit = (match.group(1) or match.group(2)).lower().removeprefix("working ")
    return re.compile(rf"(?:{NUMBER}|半)\s*(?:个)?(?:{_UNITS_OF[unit]})")


# "How many points", "how many security guards": a count of points is given in 分, one of people by
# 名, 人, 位 or 个 (三个子女); 保存十年 answers neither.
_PEOPLE = (
    r"people|persons|members|staff|employees|workers|guards|judges|deputies|representatives|students|pupils"
    r"|children|teachers|doctors|nurses|officers|inspectors|volunteers|passengers|residents"
)
_COUNTED_ASKED = re.compile(rf"\bhow many\s+(?:[\w-]+\s+){{0,2}}?(?:(?P<points>points)|(?P<people>{_PEOPLE}))\b", re.I)
_COUNTED_POINTS = re.compile(rf"{NUMBER}\s*分(?![钟之])")
_COUNTED_PEOPLE = re.compile(rf"{NUMBER}\s*(?:名|人|位|个)")


# 多少户, 几所, 几条狗: a count asked by its measure word is given with that word or one like it (每户限养一只).
_MEASURE_ASKED = re.compile(r"(?:多少|(?<![哪好第])几)(个|家|项|所|名|人|位|件|次|条|处|座|户|分(?![钟之]))")
_MEASURES_LIKE = {"名": "名|人|位", "人": "名|人|位", "位": "名|人|位", "条": "条|只|头", "分": "分(?![钟之])"}


def _count_of_what_asked(question: str) -> re.Pattern[str] | None:
    """The pattern of a count of what the question asks the number of: points or people in English, the thing
    its measure word counts in Chinese (not 个, which counts anything)."""
    if match := _COUNTED_ASKED.search(question):
        return _COUNTED_POINTS if match.group("points") else _COUNTED_PEOPLE
    if (measure := _MEASURE_ASKED.search(question)) and measure.group(1) != "个":
        return re.compile(
            rf"(?<![第{_CN_NUMERAL}]){NUMBER}\s*(?:{_MEASURES_LIKE.get(measure.group(1), measure.group(1))})"
        )
    return None


def figure_asked(question: str) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    """The pattern of the figure a question asks for and the pattern of the words that ask, if any."""
    asking = _parts_asking_figures(question)
    for kind, asks, figure in _ASKED:
        if asks.search(asking):
            if kind == "duration" and (in_unit := _duration_in_unit_asked(asking)) is not None:
                return in_unit, asks
            if kind == "count" and (counted := _count_of_what_asked(asking)) is not None:
                return counted, asks
            return figure, asks
    return None


def _parts_asking_figures(question: str) -> str:
    """The parts of the question that may ask for a figure: not one that asks what decides a figure, how it
    is worked out, or who sets it. "How far ahead must a ship apply, and which authority approves it?"
    still asks how far ahead."""
    chinese = is_chinese(question)
    asked = sentences_that_ask(question) if chinese else _CONDITION.sub(" ", sentences_that_ask(question))
    parts = question_parts(asked, chinese)
    return " ".join(part for part in parts if not _asks_about_a_figure(part))


# A condition set before an English question asks ("if a company disputes the nature or rate of a fee, …
# how quickly must the department reply?") names the case, not the figure asked for.
_CONDITION = re.compile(r"(?:\b(?:if|unless|once|whenever)|(?:^|(?<=[,;]))\s*(?:when|where))\b[^,;?]{0,150},", re.I)


# An English sentence ends at a full stop or an exclamation mark before a capital ("… an outsider. Her
# notice …"), not at "e.g." or "No. 5".
_ENGLISH_SENTENCE_END = re.compile(r"(?<=[a-z0-9)][.!])\s+(?=[A-Z])")


# A Chinese sentence ends at 。 or ！: "他原来对接的几个老客户跟着他走了。我们能起诉吗？" tells of "several"
# clients (几个) and asks no count.
_CHINESE_SENTENCE_END = re.compile(r"(?<=[。！])")


def sentences_that_ask(question: str) -> str:
    """The sentences of a question that end in a question mark, when some do and others tell the story:
    "My co-owner wants to sell her share of our flat. … What's the deadline?" asks for a period, not a
    share."""
    splitter = _CHINESE_SENTENCE_END if is_chinese(question) else _ENGLISH_SENTENCE_END
    sentences = [sentence for sentence in splitter.split(question.strip()) if sentence.strip()]
    asking = [sentence for sentence in sentences if sentence.rstrip().endswith(("?", "？"))]
    return " ".join(asking) if asking and len(asking) < len(sentences) else question


def _asks_about_a_figure(part: str) -> bool:
    """Whether a part of a question asks who sets a figure, or what decides it or how it is worked out and not
    the figure itself."""
    if _ASKS_WHO_SETS.search(part):
        return True
    return bool(_ASKS_CRITERIA.search(part) or _ASKS_METHOD.search(part)) and not _ASKS_FIGURE_ITSELF.search(part)


def sum_noun_asked(question: str) -> str | None:
    """The English noun that names the sum asked for ("wage" of "what is the lowest wage"), if any.

    A law often fixes such a sum as a share of another (不得低于…工资的80%): a share said of that
    noun answers the question too.
    """
    if figure_kind(question) != "amount" or ASKS_MONEY.search(question) or NAMES_CURRENCY.search(question):
        return None
    match = ASKS_SUM_BY_NOUN.search(question)
    return match.group("noun").lower() if match else None


# The noun of the sum a Chinese question asks for, said next to 多少: 门票价格是多少, 多少罚款.
_CHINESE_SUM_NOUN = re.compile(
    # 多少高龄津贴: a word or two may say which sum.
    rf"(?P<before>{_MONEY_NOUNS}|门票|票价)(?:标准)?(?:是|为|有)?(?:多少|几何)"
    rf"|多少(?:钱的)?[^，,。？?；;的\s]{{0,4}}?(?P<after>{_MONEY_NOUNS})"
)


def chinese_sum_noun(question: str, words: Collection[str] = ()) -> str | None:
    """The noun of the sum a Chinese question asks for next to 多少 (价格 of 门票价格是多少), if any; else the
    fee among the question's ``words`` (补偿费 of 绿化补偿费，每平方米是多少钱), if it names one."""
    if figure_kind(question) != "amount":
        return None
    if match := _CHINESE_SUM_NOUN.search(question):
        return match.group("before") or match.group("after")
    fees = _FEE_RENDERING.findall(" ".join(w for w in words if len(w) > 1))
    return fees[0] if fees else None


def asked_figure(question: str) -> re.Pattern[str] | None:
    """The pattern of the figure a question asks for ("how many", "比例"), if any."""
    asked = figure_asked(question)
    return asked[0] if asked else None


_EN_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_ZH_NUMBERS = {"两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
# "the five stages", "three main models", "五个阶段", "三种模式", "四大堵点": a question that
# names how many things it asks for.
_ASKS_ITEMS_EN = re.compile(
    r"\b(two|three|four|five|six|seven|eight|nine|ten|[2-9])\s+(?:main\s+|key\s+|major\s+|different\s+)?"
    r"(?:stages|phases|steps|types|kinds|ways|models|modes|measures|principles|categories|parts|aspects"
    r"|reasons|factors|bottlenecks|paths|pathways|dimensions|levels|elements|features|tasks|areas)\b",
    re.I,
)
# Not "第五条" (an article) nor a digit of a longer number ("十五条").
_ASKS_ITEMS_ZH = re.compile(
    r"(?<![第十百千零〇一二三四五六七八九\d])([两二三四五六七八九十2-9])\s*(?:个|种|类|项|大|条|方面|阶段|层次|环节)"
)


def items_asked(question: str) -> int | None:
    """How many items an enumeration question asks for ("What are the five stages …?" → 5), if it says."""
    if match := _ASKS_ITEMS_EN.search(question):
        word = match.group(1).lower()
        return int(word) if word.isdigit() else _EN_NUMBERS[word]
    if match := _ASKS_ITEMS_ZH.search(question):
        word = match.group(1)
        return int(word) if word.isdigit() else _ZH_NUMBERS[word]
    return None


# A question asking for several things of a kind: "哪些", "哪几种", "哪两类"; "which claims", "what
# conditions", "what thresholds" (a plural after "which" or "what", not a verb: "what does").
_ASKS_LIST_ZH = re.compile(r"哪些|哪几|哪[两二三四五六七八九十]")
_ASKS_LIST_EN = re.compile(
    r"\b(?:which|what)\s+(?:[a-z-]+\s+(?:(?:or|and)\s+[a-z-]+\s+)?)?"
    r"(?!(?:does|is|was|has|this|its|his|us|as|less|unless|thus|yes|plus|happens|applies|means|says|goes|takes"
    r"|makes|counts|matters|occurs|remains|follows|exists|needs)\b)[a-z-]{2,}[^s\W]s\b",
    re.I,
)
_ASKS_LIST_ARE = re.compile(r"\bwhat\s+are\s+the\s+(?:[a-z-]+\s+)?[a-z-]{2,}[^s\W]s\b", re.I)
# A passage that lists: "有下列情形之一的：", "包括以下内容：", "（一）".
_ENUMERATES = re.compile(r"(?:下列|以下|如下)[^。；]{0,40}[：:]|（一）")


def asks_for_list(question: str) -> bool:
    """Whether a question asks for several things of a kind ("哪些情形", "Which claims …", "What are the terms")."""
    return any(p.search(question) for p in (_ASKS_LIST_ZH, _ASKS_LIST_EN, _ASKS_LIST_ARE))


def enumerates(text: str) -> bool:
    """Whether a passage lists things (下列…：, （一）)."""
    return bool(_ENUMERATES.search(text))

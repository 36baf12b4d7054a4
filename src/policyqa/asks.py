"""Questions that ask for something other than a figure: which body acts, or what a paper does as a whole.

"Under the Nationality Law, which body approves applications to acquire Chinese nationality?",
"人工影响天气作业由谁来组织实施？": every article of the law speaks of the applications and their
approval; the answer is the one that says who approves (由…公安部审批). Retrieval lifts, a little, the
passages that name a body acting (``Retriever.search``), as it lifts those giving the kind of
figure a question asks for.

"Why does the Lawyers Law require lawyers to renew their certificates every five years?": a law says
what it lays down, not why; the question asks for its makers' reasons (and here rests on a false
premise). Its answer says the texts give no reasons and quotes what they lay down on the matter.

"In short, what framework does the paper build?", "这篇文章概括来说提出了什么？": a question about a
paper's work as a whole is answered by the paper's own summary (its 摘要), which a passage on one
part of the work outranks by sharing more of the question's words.
"""

from __future__ import annotations

import re

_ENGLISH_BODIES = (
    r"body|bodies|authorit(?:y|ies)|department|departments|agency|agencies|organ|organs|court|courts|office|offices"
    r"|ministry|ministries|institution|institutions|bureau|bureaus|committee|committees|commission|commissions"
    r"|administration|government|governments|unit|units|level of government"
)
_ENGLISH_ACTS = (
    r"approves?|decides?|issues?|handles?|hears?|(?:is|are) (?:responsible|in charge)|bears?|supervises?|organi[sz]es?"
    r"|administers?|manages?|registers?|examines?|reviews?|accepts?|grants?|certif(?:y|ies)|signs?|enforces?"
    r"|draws? up|formulates?|rules?|investigates?|inspects?|appoints?|licen[cs]es?|countersigns?"
)
# "which body approves …", "who hears …", "where does an applicant file", 由谁, 哪个部门, 向哪里申请.
_ASKS_FOR_BODY = re.compile(
    rf"\b(?:which|what)\s+(?:\w+\s+){{0,2}}(?:{_ENGLISH_BODIES})\b"
    rf"|\bwho\s+(?:\w+\s+)?(?:{_ENGLISH_ACTS})\b|\bto whom\b"
    r"|\bwhere\s+(?:does|do|should|must|can|may|would)\s+(?:\w+\s+){1,5}?(?:file|apply|register|complain|report"
    r"|submit|appeal|sue|go)\b"
    r"|由谁|谁来|谁(?:负责|审批|批准|决定|管辖|审理|受理|签署)|(?:哪个|哪些|哪一?级|什么|哪家|哪一)(?:部门|机关|机构|单位|法院|政府)"
    r"|向(?:哪里|哪儿|哪个|谁)|到哪(?:里|儿)?(?:申请|登记|备案|投诉|起诉)",
    re.I,
)
_ORGAN = r"(?:部门|机关|机构|委员会|人民政府|政府|法院|检察院|[^\s，。；、：]{1,8}?(?:部|局|厅|署))"
_ACTING = (
    r"(?:负责|审批|批准|核准|受理|管辖|审理|决定|组织|制定|确定|登记|备案|主管|颁发|发给|监督|认定|指派"
    r"|实施|办理|审查|审核|核发|裁定|签署|任命)"
)
# A body doing something: 由公安部审批, 市场监督管理部门负责, 受理…的机关，在国外为中国外交代表机关.
BODY_ACTING = re.compile(
    rf"由[^，。；]{{0,30}}?{_ORGAN}|{_ORGAN}(?:应当|可以|依法|统一|具体|依照[^，。；]{{0,20}})?{_ACTING}"
    rf"|为[^，。；]{{0,20}}?{_ORGAN}"
)


def asks_for_body(question: str) -> bool:
    """Whether a question asks which body, court or authority acts ("which body approves", 由谁, 向哪里)."""
    return _ASKS_FOR_BODY.search(question) is not None


# "in short", "the main argument", "what does the paper propose", "what framework … build", 概括, 主要观点,
# 提出了什么, 构建了…框架. Not "framework" alone: "under the framework, which policy fits …" asks one part of it.
_ASKS_FOR_OVERVIEW = re.compile(
    r"\bin (?:short|brief|sum|a nutshell)\b|\boverall\b|\bsummar(?:y|ise|ize|ised|ized)\b"
    r"|\bmain (?:arguments?|contributions?|findings?|conclusions?|ideas?|points?|thesis)\b"
    r"|\bwhat (?:\w+\s+){0,3}(?:does|did) (?:the|this|that) (?:paper|study|article|authors?) "
    r"(?:propose|argue|build|construct|develop|conclude|find|contribute)\b"
    r"|\bframework\b[^?]{0,80}\b(?:propos\w*|buil[dt]s?|construct\w*|develop\w*|dimensions?)\b"
    r"|\b(?:propos\w*|buil[dt]s?|construct\w*|develop\w*)\b[^?]{0,40}\bframework\b"
    r"|概括|总体|总的来说|主要观点|核心观点|主要内容|主要结论|主要贡献|(?:提出|构建|建立)了?(?:什么|怎样|哪些|[^，。？?]{0,12}框架)",
    re.I,
)


def asks_for_overview(question: str) -> bool:
    """Whether a question asks what a work does as a whole ("in short", "what framework does it build", 概括)."""
    return _ASKS_FOR_OVERVIEW.search(question) is not None


REASONS_UNSTATED = "the question asks why a legal text lays something down, which its text does not say"
# "Why does/did …", 为什么, 为何, 出于什么考虑.
_ASKS_WHY = re.compile(
    r"\bwhy\s+(?:does|do|did|is|are|was|were|has|have|would|should|must|can)\b|为什么|为何|出于什么(?:考虑|原因|目的)",
    re.I,
)
# A legal text named or pointed at by its kind: "the Lawyers Law", "Shandong's regulation", 《…》, 条例.
_LEGAL_TEXT = re.compile(
    r"\b(?:law|laws|code|regulations?|rules|provisions|measures|interpretations?|act|ordinance)\b"
    r"|《|法律|法规|条例|规章|细则|司法解释|本法|该法|规定|办法",
    re.I,
)
# Texts that do give reasons: a paper argues, a court's judgment reasons ("why did the court rule …", 判决).
# And a law's making has a purpose its first article states ("why was the law enacted", 为什么制定).
_TEXTS_THAT_REASON = re.compile(
    r"\b(?:paper|study|article(?!\s+\d)|authors?|court|courts|case|cases|judg(?:e|es|ment|ments)|rul(?:ed|ing))\b"
    r"|\b(?:enact|promulgat)\w*|\b(?:was|were|been|be)\s+(?:adopted|passed|introduced|formulated|drafted|issued|made)\b"
    r"|论文|文章|作者|法院|案例|案件|判决|裁定|制定|出台|颁布|立法目的",
    re.I,
)


def asks_for_lawmakers_reason(question: str) -> bool:
    """Whether a question asks why a law or regulation lays something down: "Why does the … Law require …?"."""
    return (
        _ASKS_WHY.search(question) is not None
        and _LEGAL_TEXT.search(question) is not None
        and _TEXTS_THAT_REASON.search(question) is None
    )


# The opening of an English premise, before the verb that says what a text allows or requires.
_SINCE = r"^(?:since|given that|as)\b[^,?]*?\b"

FORBIDDEN_NOT_ALLOWED = "the question takes as allowed what the texts forbid"
# A premise that a legal text allows something, put before what is asked: "Since the regulations allow
# motorcycles on expressways, what speed limit …", "既然《…》允许…，…". What is allowed runs to the
# clause's end.
_ALLOWED_PREMISE = re.compile(
    rf"{_SINCE}(?:allows?|allowed|lets?|permits?|permitted)\s+(?P<en>[^,?]+)"
    r"|既然[^，,？?]*?(?:允许|准许|可以)(?P<zh>[^，,？?]+)"
    r"|^《[^》]+》(?:规定)?(?:允许|准许)(?P<stated>[^，,？?]+)[，,]\s*那",
    re.I,
)


def allowed_in_premise(question: str) -> str | None:
    """What a question's opening premise says a legal text allows ("Since the … regulations allow X, …"), else None."""
    return _premise(_ALLOWED_PREMISE, question)


ENCOURAGED_NOT_REQUIRED = "the question takes as required what the texts only encourage"
# A premise that a legal text requires something: "Since the regulations made weather-disaster insurance
# compulsory for businesses, …", "既然《…》强制要求…，…". The words that say so are no thing required.
_REQUIRED_PREMISE = re.compile(
    rf"{_SINCE}(?:requires?|required|mandates?|mandated|obliges?|obliged)\s+(?P<en>[^,?]+)"
    rf"|{_SINCE}(?:makes?|made)\s+(?P<made>[^,?]+?)\s+(?:compulsory|mandatory|obligatory)\b"
    r"|既然[^，,？?]*?(?:强制要求|强制|必须|要求)(?P<zh>[^，,？?]+)",
    re.I,
)


def required_in_premise(question: str) -> str | None:
    """What a question's opening premise says a legal text requires ("Since the … rules require X, …"), else None."""
    return _premise(_REQUIRED_PREMISE, question)


def _premise(pattern: re.Pattern[str], question: str) -> str | None:
    """The part of a question's opening premise about a legal text that ``pattern`` captures, else None."""
    found = pattern.search(question.strip())
    if found is None or _LEGAL_TEXT.search(found.group(0)) is None:
        return None
    return next((group for group in found.groups() if group), None)

"""Regenerate the cities of ``src/policyqa/data/places.json`` from CC-CEDICT.

The gazetteer's provinces, the paper's cities and the foreign countries are kept as
written; every prefecture-level city, sub-provincial city and provincial capital that
CC-CEDICT describes as such ("Shaoxing, prefecture-level city in Zhejiang") is added
with its pinyin name and the province its gloss names, so that a question about Shaoxing's or Yantai's regulations is
recognised as naming a place like one about Shanghai. Cities that share an English
name (Yulin: 榆林 and 玉林) are one entry with both Chinese names. A city whose
name CC-CEDICT also lists as a common word (日照 "sunshine", 白银 "silver") is marked
``"word": true``: in Chinese text it names the city only with 市.

    python -m policyqa_tools.gazetteer   # rewrites src/policyqa/data/places.json
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from policyqa.dictionary import _data, _lines

PLACES_FILE = Path(__file__).resolve().parents[2] / "src" / "policyqa" / "data" / "places.json"
_ENTRY = re.compile(r"^(\S+) (\S+) \[([^\]]+)\] /(.*)/$")
# The gloss of a city: "Shaoxing, prefecture-level city in Zhejiang", "Hefei, capital of Anhui Province".
# An older or local name may come first ("Chaozhou or Teochew", "Kiamusze or Jiamusi", "Wuhait or Wuhai").
_CITY_GLOSS = re.compile(
    r"^([A-Z][a-z'\u00fc]+(?: [A-Z][a-z']+)?)(?: or ([A-Z][a-z'\u00fc]+(?: [A-Z][a-z']+)?))?,? "
    r"(?:prefecture[- ]level city|sub-?provincial city|capital of (\w+))"
)
CITY_LEVEL = "city"


def common_words(lines: list[str]) -> set[str]:
    """Simplified words of CC-CEDICT's entries for common words (pinyin in lower case)."""
    words = set()
    for line in lines:
        if (match := _ENTRY.match(line)) and match.group(3)[:1].islower():
            words.add(match.group(2))
    return words


def cities(lines: list[str], provinces: set[str]) -> dict[str, dict[str, str]]:
    """English name (lower case) -> the Chinese short names of the cities CC-CEDICT gives it, each
    with the province (English, lower case; "" if the gloss names none) the gloss puts it in.

    A capital counts only as the capital of one of ``provinces`` (English, lower case):
    CC-CEDICT names the capitals of other countries and of old dynasties the same way. A city's
    province is the first of ``provinces`` its gloss names ("prefecture-level city in Henan",
    "…, Hainan", "subprovincial city and capital of Shandong province").
    """
    found: dict[str, dict[str, str]] = {}
    province_names = re.compile(r"\b(" + "|".join(map(re.escape, sorted(provinces, key=len, reverse=True))) + r")\b")
    for line in lines:
        match = _ENTRY.match(line)
        if not match:
            continue
        _, simplified, pinyin, definition = match.groups()
        short = simplified.removesuffix("市")
        if len(short) < 2 or not re.fullmatch(r"[\u4e00-\u9fff]+", short):
            continue
        for gloss in definition.split("/"):
            city = _CITY_GLOSS.match(gloss)
            if not city or (city.group(3) and city.group(3).lower() not in provinces):
                continue
            # The name must be the entry's own pinyin, not a description ("Capital of ...") or a
            # name in another romanisation ("Teochew"); ü is written u, as English texts write Lüliang.
            letters = "".join(c for c in pinyin.lower() if "a" <= c <= "z").removesuffix("shi")
            spelled = [n.lower().replace("\u00fc", "u") for n in city.group(1, 2) if n]
            name = next((n for n in spelled if n.replace("'", "").replace(" ", "") == letters), None)
            if name is None:
                continue
            province = province_names.search(gloss.lower())
            names = found.setdefault(name, {})
            if not names.get(short):
                names[short] = province.group(1) if province else ""
    return found


def merged(
    places: list[dict[str, object]], found: dict[str, dict[str, str]], words: set[str]
) -> list[dict[str, object]]:
    """The gazetteer with the found cities added; entries already there keep their names.

    A city's ``in`` lists the Chinese names of the provinces it lies in (one per Chinese name
    of the entry): a province's local law is in force in its cities too.
    """
    kept = [p for p in places if p.get("level") != CITY_LEVEL]  # the hand-written entries
    known_en = {e for p in kept for e in p["en"]}  # type: ignore[attr-defined]
    known_zh = {z for p in kept for z in p["zh"]}  # type: ignore[attr-defined]
    chinese_of = {e: p["zh"][0] for p in kept for e in p["en"]}  # type: ignore[attr-defined, index]
    for name in sorted(found):
        chinese = [z for z in found[name] if z not in known_zh]
        if name in known_en or not chinese:
            continue
        entry: dict[str, object] = {"en": [name], "zh": chinese, "level": CITY_LEVEL}
        within = list(dict.fromkeys(chinese_of[p] for z in chinese if (p := found[name][z]) in chinese_of))
        if within:
            entry["in"] = within
        if any(z in words for z in chinese):
            entry["word"] = True
        kept.append(entry)
        known_zh.update(chinese)  # "Bose or Baise": one city under its first name only
    return kept


def main() -> int:
    raw = json.loads(PLACES_FILE.read_text(encoding="utf-8"))
    provinces = {e for p in raw["places"] if p.get("level") != CITY_LEVEL for e in p["en"]}
    lines = _lines(_data())
    raw["places"] = merged(raw["places"], cities(lines, provinces), common_words(lines))
    PLACES_FILE.write_text(json.dumps(raw, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    added = sum(1 for p in raw["places"] if p.get("level") == CITY_LEVEL)
    print(f"{len(raw['places'])} places, {added} cities from CC-CEDICT -> {PLACES_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Lexical stage: jieba tokens and BM25 (bm25s), persisted without pickle."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from policyqa.lexical import (
    COHESION_PRIOR,
    LexicalIndex,
    bodies_named,
    counted_nouns,
    cut,
    flat_tokens,
    function_words,
    jieba_module,
    nouns,
    nouns_asked_for,
    one_character_headed,
    synonym_set,
    tokenize,
    tokenize_joined,
    word_parts,
    words_jieba_cuts_apart,
    words_jieba_lacks,
)

PASSAGES = [
    "第四条 高等院校可以自主决定转让其持有的科技成果。",
    "当技术进入泡沫破裂低谷期，投资大幅减少，企业纷纷退出。",
    "市人民政府应当建立跨部门的协调机制。",
    "地方政府可以建设技术转移机构，为成果转化提供融资服务。",
]


@pytest.fixture(scope="module")
def lexical() -> LexicalIndex:
    return LexicalIndex.build(PASSAGES)


def test_tokenize_drops_punctuation_and_function_words() -> None:
    tokens = tokenize("科技成果转化的政策是什么？（试行）")

    assert tokens == ["科技成果", "转化", "政策", "试行"]


def test_tokenize_keeps_english_words_and_numbers_lower_cased() -> None:
    tokens = tokenize("What is Technology Transfer in 2024, at 50%?")

    assert tokens == ["technology", "transfer", "2024", "50%"]


def test_tokenize_of_punctuation_only_is_empty() -> None:
    assert tokenize("，。！？、；：“”（）…—— ,.;:!?") == []


# Texts where jieba-rs and jieba could part: alphanumeric runs joined by marks, dictionary
# words with marks, full-width forms, rare ideographs, whitespace and line breaks.
SEGMENTATION_CASES = [
    "抗震设防烈度分区值0.10g确定抗震设防，0.20g以上地区。",
    "《建筑标准》（DBJ14-022-2003），在1980-1981年建成的住宅；规划（2020-2035年）。",
    "PM2.5浓度下降3.5%，增长50%以上，COVID-19疫情，5G网络，7×24小时服务，3.5‰。",
    "C++、C#、AT&T、T恤和B超、A股；foo_bar、self-report.md、github.com/mr.zhou。",
    "#### 5.1.1 重伤\n面积累计75.0cm2以上。",
    "Ｐ２Ｐ网贷１．２万元，①②③第一条，一、二、x²+y²，e-mail地址。",
    "㐀㐁中国人民，中国鿪龦人民银行，豈更规定，𠀀𠀁中国。",
    "第一条　为了规范行政处罚的设定和实施，\r\n保障和监督行政机关有效实施行政管理。",
    "How do companies partner with universities under the 2015 law?",
    "",
]


def test_jieba_reads_its_dictionary_cache_from_a_private_folder() -> None:
    from policyqa.user_cache import cache_home

    # jieba unmarshals that cache: in the shared temp folder another local user could plant one.
    assert Path(jieba_module().dt.tmp_dir) == cache_home() / "jieba"


@pytest.mark.parametrize("text", SEGMENTATION_CASES)
def test_cut_gives_jiebas_own_words(text: str) -> None:
    jieba = jieba_module()
    for variant in (text, text.lower()):
        assert cut(variant) == jieba.lcut(variant)


def test_cut_gives_jiebas_own_words_on_the_corpus() -> None:
    jieba = jieba_module()
    corpus = Path(__file__).resolve().parents[1] / "corpus"
    texts = [p.read_text(encoding="utf-8") for p in sorted(corpus.glob("*.txt"))]
    assert texts, "the default corpus holds the paper"
    for text in texts:
        assert cut(text.lower()) == jieba.lcut(text.lower())


def test_bm25_ranks_the_passage_with_the_query_words_first(lexical: LexicalIndex) -> None:
    scores = lexical.scores(tokenize("泡沫破裂低谷期的投资"))

    assert scores.shape == (len(PASSAGES),)
    assert int(np.argmax(scores)) == 1
    assert scores[1] > 0 and scores[2] == 0


def test_bm25_prefers_rarer_words(lexical: LexicalIndex) -> None:
    # "技术" occurs in two passages, "融资" in one: the passage with both wins.
    scores = lexical.scores(tokenize("技术 融资"))

    assert int(np.argmax(scores)) == 3
    assert scores[3] > scores[1] > 0
    assert scores[0] == scores[2] == 0


def test_unknown_tokens_give_zero_scores(lexical: LexicalIndex) -> None:
    scores = lexical.scores(["量子纠缠", "blockchain"])

    assert scores.shape == (len(PASSAGES),)
    assert not scores.any()
    assert not lexical.scores([]).any()


def test_save_and_load_round_trip_without_pickle(lexical: LexicalIndex, tmp_path: Path) -> None:
    folder = tmp_path / "bm25"
    lexical.save(folder)

    loaded = LexicalIndex.load(folder)

    for query in ("科技成果转化", "协调机制", "投资 企业 退出"):
        np.testing.assert_allclose(loaded.scores(tokenize(query)), lexical.scores(tokenize(query)), rtol=1e-6)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert files
    for path in files:
        if path.suffix == ".npy":
            np.load(path, allow_pickle=False)
        else:
            assert path.suffix == ".json", path
            json.loads(path.read_text(encoding="utf-8"))


def test_a_passage_without_words_is_indexed_and_never_matches() -> None:
    index = LexicalIndex.build(["。。。", "科技成果转化"])

    scores = index.scores(tokenize("科技成果转化"))

    assert scores[0] == 0 and scores[1] > 0


def test_building_and_loading_log_no_debug_chatter(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # bm25s turns its own logger to DEBUG on import; the CLI's level must still hold.
    with caplog.at_level(logging.INFO):
        LexicalIndex.build(PASSAGES).save(tmp_path / "bm25")
        LexicalIndex.load(tmp_path / "bm25")

    assert not [r for r in caplog.records if r.name.startswith("bm25s") and r.levelno < logging.WARNING]


def test_loaded_index_scores_exactly_as_bm25s(lexical: LexicalIndex, tmp_path: Path) -> None:
    import bm25s

    folder = tmp_path / "bm25"
    lexical.save(folder)
    ours = LexicalIndex.load(folder)
    theirs = bm25s.BM25.load(str(folder), mmap=True, allow_pickle=False)

    for query in ("科技成果转化", "协调机制 协调机制", "投资 企业 退出 成果", "blockchain"):
        tokens = tokenize(query)
        ids = [theirs.vocab_dict[t] for t in tokens if t in theirs.vocab_dict]
        expected = theirs.get_scores_from_ids(ids) if ids else np.zeros(len(PASSAGES), dtype=np.float32)
        np.testing.assert_array_equal(ours.scores(tokens), expected)


@pytest.mark.slow  # a subprocess or a server process of its own: make test runs it
def test_querying_a_loaded_index_does_not_import_bm25s(lexical: LexicalIndex, tmp_path: Path) -> None:
    folder = tmp_path / "bm25"
    lexical.save(folder)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from policyqa.lexical import LexicalIndex, tokenize\n"
        f"index = LexicalIndex.load(Path({str(folder)!r}))\n"
        "assert index.scores(tokenize('科技成果转化')).max() > 0\n"
        "print('bm25s' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.slow  # a subprocess of its own: make test runs it
def test_a_questions_words_are_cut_without_loading_jieba() -> None:
    # jieba takes ~0.6 s to load its dictionary: a new process answering a question pays it only for tags.
    code = (
        "import sys\n"
        "from policyqa.lexical import tokenize\n"
        "print(tokenize('What do 科技成果转化 rules say about 2020-2035?'))\n"
        "print('jieba' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stderr
    words, jieba_loaded = result.stdout.strip().splitlines()
    assert words == str(["科技成果", "转化", "rules", "say", "2020", "2035"])  # jieba's own words
    assert jieba_loaded == "False"


@pytest.mark.parametrize(
    ("parts", "separators"),
    [
        (["第四条 高等院校可以自主决定转让。", "其持有的科技成果（试行）。"], [""]),
        (["科技成果转化", "第四条", "高校可以转让成果；", "投资大幅减少。"], ["\n", "\n", ""]),
        (["a run of text cut for leng", "th inside a word"], [""]),  # meets inside a word: cut whole
        (["泡沫破裂低", "谷期的政策"], [""]),
    ],
)
def test_tokenize_joined_equals_tokenizing_the_joined_text(parts: list[str], separators: list[str]) -> None:
    joined = "".join(p + s for p, s in zip(parts, [*separators, ""], strict=True))
    cache: dict[str, list[str]] = {}

    assert tokenize_joined(parts, separators, cache) == tokenize(joined)
    assert tokenize_joined(parts, separators, cache) == tokenize(joined)  # from the cache


def test_nouns_are_what_a_question_asks_about_not_how_it_asks() -> None:
    found = nouns("《民法典》对克隆宠物的所有权归属是怎么规定的？")
    assert {"宠物", "所有权"} <= set(found)
    assert not {"怎么", "对", "的"} & set(found)


def test_function_words_say_how_a_question_is_put_not_what_it_asks_about() -> None:
    found = function_words("上海的检测机构因为出具虚假报告被罚了，之后多久不能再接委托？孩子出生后多久之内要报户口？")
    assert {"因为", "之后", "之内", "的"} <= found
    assert not {"检测", "机构", "虚假", "报告", "孩子", "户口"} & found
    assert "一期" not in function_words("上海公交线路经营权一期最长能给几年？")  # jieba's adverb, a term here


# Passages as BM25 tokens: a partnership law's words, and passages on companies and universities.
SET_PASSAGES = [
    ["合伙", "企业", "合伙", "合伙人", "协议"],
    ["企业", "高校", "合作", "培养"],
    ["伙伴", "合作", "高校"],
    ["其他", "事项"],
]


def test_a_synonym_set_scores_each_passage_by_its_best_member_there() -> None:
    lexical = LexicalIndex.build_from_tokens(SET_PASSAGES)
    members = ["合伙", "合伙人", "伙伴", "不在语料"]

    scores = lexical.scores([synonym_set(members)])

    each = np.stack([lexical.scores([member]) for member in members])
    assert scores.tolist() == each.max(axis=0).tolist()
    assert scores[0] > 0 and scores[2] > 0 and scores[1] == scores[3] == 0


def test_a_synonym_set_weighs_as_one_word_where_flat_renderings_add_up() -> None:
    # "How do companies partner with universities": "partner" rendered 合伙, 合伙人, 伙伴关系 and 伙伴.
    passages = [
        ["合伙", "合伙人", "伙伴关系", "协议"],  # a partnership law: three renderings of one English word
        ["企业", "高校", "伙伴", "培养"],  # companies, universities and a partner
        ["其他", "事项"],
        ["企业", "管理"],
        ["高校", "招生"],
    ]
    lexical = LexicalIndex.build_from_tokens(passages)
    partner = ["合伙", "合伙人", "伙伴关系", "伙伴"]

    flat = lexical.scores([*partner, "企业", "高校"])
    structured = lexical.scores([synonym_set(partner), "企业", "高校"])

    assert int(np.argmax(flat)) == 0
    assert int(np.argmax(structured)) == 1


def test_a_sense_the_other_phrases_stand_beside_is_more_cohesive_than_one_seen_alone() -> None:
    # "limitation period … defence": 时效 stands with 期间 and 抗辩 in the passages on limitation; 限度 does not.
    passages = [
        ["诉讼", "时效", "期间", "届满"],
        ["时效", "抗辩", "不予", "支持"],
        ["时效", "期间", "抗辩"],
        ["噪声", "限度"],
        ["必要", "限度", "防御"],
        ["局限性"],
    ]
    lexical = LexicalIndex.build_from_tokens(passages)

    limitation, period, defence = lexical.cohesion([["限度", "局限性", "时效"], ["时期", "期间"], ["防御", "抗辩"]])

    assert limitation[2] > limitation[0] > limitation[1] == 0.0
    assert period[1] > period[0] == 0.0  # a word the corpus lacks holds nothing
    assert defence[1] > defence[0]


def test_cohesion_counts_a_group_once_in_a_passage_and_shrinks_rare_words() -> None:
    passages = [["时效", "期间", "期限"], ["时效", "期间"], ["罕见", "期间"]]
    lexical = LexicalIndex.build_from_tokens(passages)

    (often, rare), _ = lexical.cohesion([["时效", "罕见"], ["期间", "期限"]])

    # 期间 and 期限 render one phrase: the first passage holds that phrase once, not twice.
    assert often == pytest.approx(2 / (2 + COHESION_PRIOR))
    # Each of 罕见's passages holds the other phrase too, but one passage is little evidence.
    assert rare == pytest.approx(1 / (1 + COHESION_PRIOR))
    assert rare < often


def test_a_synonym_set_of_one_word_scores_as_that_word() -> None:
    lexical = LexicalIndex.build_from_tokens(SET_PASSAGES)

    assert lexical.scores([synonym_set(["高校"])]).tolist() == pytest.approx(lexical.scores(["高校"]).tolist())
    assert not lexical.scores([synonym_set(["不在语料", "也不在"])]).any()


def test_synonym_sets_asked_again_score_the_same_within_the_bound_kept() -> None:
    lexical = LexicalIndex.build_from_tokens(SET_PASSAGES)
    lexical.SYNONYM_POSTINGS_KEPT = 3  # passages of the sets kept, at most
    first, second = synonym_set(["合伙", "伙伴"]), synonym_set(["高校", "企业"])

    before = lexical.scores([first]).copy()
    lexical.scores([second])  # 3 passages: the first set's 2 make way
    after = lexical.scores([first])

    assert after.tolist() == before.tolist()
    assert lexical._synonym_postings_kept <= 3


def test_a_kept_synonym_set_holds_its_rows_as_the_postings_do() -> None:
    # The bound counts 8 bytes a posting (int32 row, float32 score): numpy's int64 rows made it 12.
    lexical = LexicalIndex.build_from_tokens(SET_PASSAGES)

    rows, values = lexical._synonym_set_postings(synonym_set(["合伙", "伙伴"]))

    assert rows.dtype == np.int32 and values.dtype == np.float32
    assert rows.tolist() == [0, 2]


def test_flat_tokens_give_a_synonym_sets_members_as_tokens() -> None:
    assert flat_tokens(["专利", synonym_set(["合伙", "伙伴"])]) == ["专利", "合伙", "伙伴"]


def test_a_compound_headed_by_a_one_character_noun_is_found_whole() -> None:
    assert one_character_headed("《食品安全法》对预制菜的标签有什么规定？") == ["预制菜"]
    assert one_character_headed("《食品安全法》对细胞培养肉的上市审批有什么规定？") == ["细胞培养肉"]
    assert one_character_headed("论文如何评价硅谷银行倒闭？") == []  # two nouns of two characters: no such head


def test_words_jieba_cuts_apart_start_inside_one_of_its_words_and_end_at_the_edge_of_another() -> None:
    known = {"元宇宙", "环保部", "知识产权"}.__contains__
    # 国家 / 对元 / 宇宙 / 平台: the word starts inside 对元 and ends with 宇宙.
    assert words_jieba_cuts_apart("国家对元宇宙平台上虚拟土地交易有哪些规定？", known) == ["元宇宙"]
    # A piece of one of jieba's words is none (环保部 of 环保部门), nor a word jieba has whole.
    assert words_jieba_cuts_apart("河南省环保部门最长可以扣多久？", known) == []
    assert words_jieba_cuts_apart("知识产权企业有哪些补贴？", known) == []


def test_words_jieba_lacks_are_the_other_dictionarys_words_it_guesses() -> None:
    known = {"抖音", "网红", "和平"}.__contains__
    assert words_jieba_lacks("对通过抖音提交的申请如何处理？", known) == ["抖音"]
    assert words_jieba_lacks("网红在小红书上发布广告", known) == ["网红"]  # 小红, a guess no dictionary has
    # Words jieba knows are no such words, whatever the other dictionary holds.
    assert words_jieba_lacks("和平台签订的合同", known) == []
    assert words_jieba_lacks("对通过抖音提交的申请如何处理？", lambda word: False) == []


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("科研成果可以通过哪些途径推广？", ["途径"]),
        ("需要具备什么样的条件？", ["条件"]),
        ("应当采取何种措施？", ["措施"]),
        ("对广告代言人有什么年龄限制？", ["年龄"]),
        ("违约金如何计算？", []),  # asks how, names no kind
        ("论文对低空经济提出了哪些建议？", ["建议"]),  # 低空经济 is what it is about, not the kind asked for
    ],
)
def test_the_kind_of_thing_a_question_asks_for(question: str, kinds: list[str]) -> None:
    assert nouns_asked_for(question) == kinds


def test_nouns_include_things_jieba_tags_as_fixed_expressions() -> None:
    assert "无人机" in nouns("对用无人机投送除颤器有什么规定？")


def test_a_compound_jieba_knows_whole_is_made_of_its_parts() -> None:
    assert word_parts("平均水平") == ("平均", "水平")
    assert word_parts("科研成果") == ("科研", "成果")  # not 研成, which overlaps both
    assert word_parts("无人机") == ()  # 无人 and 机: a part of one character tiles nothing


def test_the_nouns_a_question_asks_the_number_of() -> None:
    assert counted_nouns("小学每个班最多能有多少名学生？") == [("名", "学生")]
    # 次 counts events, which jieba tags as verbs or abbreviations.
    assert counted_nouns("社区戒毒人员一个月要做几次尿检？") == [("次", "尿检")]
    assert counted_nouns("全市有几家企业参与？") == [("家", "企业")]
    assert counted_nouns("可以处多少罚款？") == []


def test_a_clause_of_time_heads_no_compound() -> None:
    # 时 ends "when … are transferred"; 科技成果时 is no thing a law must say.
    assert one_character_headed("高校转让科技成果时，需要履行什么公示义务？") == []


def test_a_fragment_no_token_holds_is_found_through_the_compounds_that_hold_it() -> None:
    lexical = LexicalIndex.build(
        [
            "党的二十届三中全会审议通过的决定指出，推动科技创新和产业创新融合发展。",
            "党的二十届四中全会审议通过的建议指出，推动科技创新和产业创新深度融合。",
            "二十届三中全会强调加强创新资源统筹。",
        ]
    )
    # jieba keeps the plenums whole: 全会 ("plenary session") is no token of the corpus.
    assert not lexical.knows("全会") and lexical.knows("三中全会")
    assert lexical.words_holding("全会", 3) == ["三中全会", "四中全会"]  # most passages first
    assert lexical.words_holding("全会", 1) == ["三中全会"]
    assert lexical.words_holding("不存在", 3) == []


@pytest.mark.parametrize(
    ("text", "bodies"),
    [
        ("国家赔偿基金管理委员会由哪些部门组成？", ["国家赔偿基金管理委员会"]),
        ("郑州市犬类管理委员会的职责是什么？", ["郑州市犬类管理委员会"]),
        ("业主委员会怎么成立？", ["业主委员会"]),
        ("由委员会决定。", ["委员会"]),
        ("补偿标准是多少？", []),
    ],
)
def test_a_body_is_named_by_its_head_and_the_words_before_it(text: str, bodies: list[str]) -> None:
    assert bodies_named(text) == bodies

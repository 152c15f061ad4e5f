"""The compliance pre-check: terms and their evasions found at the right places in the original text."""

from __future__ import annotations

from typing import Any

import pytest

from nm_workflow.application.policy_book import seed_rules
from nm_workflow.domain.compliance import Matcher, _fold_text, fold
from nm_workflow.domain.oversight_errors import InvalidPolicy

LEXICON: dict[str, Any] = {
    "categories": [
        {
            "name": "absolute",
            "severity": "block",
            "legal_basis": "art. 9(3)",
            "terms": ["最佳", "第一", "No.1"],
        },
        {"name": "returns", "severity": "warn", "legal_basis": "art. 25", "terms": ["保本"]},
    ]
}
MATCHER = Matcher(LEXICON, version=3)


def spans(text: str) -> list[tuple[str, int, int, str]]:
    return [(f["term"], f["start"], f["end"], f["matched"]) for f in MATCHER.check({"body": text})]


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("这是最佳选择", "最佳"),
        ("这是最 佳选择", "最 佳"),
        ("这是最　佳选择", "最　佳"),  # ideographic (full-width) space
        ("这是最-佳选择", "最-佳"),
        ("这是最\u200d佳选择", "最\u200d佳"),  # zero-width joiner
        ("这是最\u200b\u200b佳选择", "最\u200b\u200b佳"),  # zero-width spaces
        ("这是最，。佳选择", "最，。佳"),
    ],
)
def test_a_term_and_its_evasions_are_found_where_they_stand(text: str, matched: str) -> None:
    assert spans(text) == [("最佳", 2, 2 + len(matched), matched)]


@pytest.mark.parametrize("text", ["No.1 pick", "no.1 pick", "ＮＯ．１ pick", "n o 1 pick", "ｎｏ１ pick"])
def test_latin_terms_match_across_case_and_width(text: str) -> None:
    ((term, start, end, matched),) = spans(text)
    assert (term, start, matched) == ("No.1", 0, text[:end])
    assert text[end:] == " pick"


def test_a_clean_text_has_no_finding() -> None:
    assert spans("春天来了，新品上市，欢迎选购。Spring is here: numbers 1, 2, 3.") == []


def test_each_finding_records_term_category_severity_position_and_context() -> None:
    body = "前言" * 20 + "我们的产品保本，而且最佳。" + "后记" * 20
    findings = MATCHER.check({"title": "第 一", "body": body})
    assert [f["id"] for f in findings] == ["f1", "f2", "f3"]
    title, returns, best = findings
    assert (title["field"], title["term"], title["start"], title["end"]) == ("title", "第一", 0, 3)
    assert (returns["category"], returns["severity"], returns["legal_basis"]) == (
        "returns",
        "warn",
        "art. 25",
    )
    assert body[returns["start"] : returns["end"]] == "保本"
    assert best["context"] == body[best["start"] - 20 : best["end"] + 20]
    assert best["severity"] == "block"


def test_positions_stay_right_after_characters_that_fold_into_several() -> None:
    # ß casefolds to "ss" and ㍿ (one character) NFKC-folds to 株式会社: the map must not drift.
    text = "Straße ㍿ 最 佳"
    ((term, start, end, matched),) = spans(text)
    assert (term, text[start:end], matched) == ("最佳", "最 佳", "最 佳")


def test_positions_after_many_runs_of_skipped_characters() -> None:
    text = " , ".join(["甲乙"] * 50) + " 最..佳 " + " - ".join(["丙"] * 30) + "保 本"
    found = spans(text)
    assert [(t, text[s:e]) for t, s, e, _ in found] == [("最佳", "最..佳"), ("保本", "保 本")]


def test_the_longest_term_wins_where_two_overlap() -> None:
    matcher = Matcher(
        {
            "categories": [
                {"name": "a", "severity": "block", "legal_basis": "x", "terms": ["第一", "全网第一"]}
            ]
        },
        1,
    )
    assert [f["term"] for f in matcher.check({"body": "全网第一"})] == ["全网第一"]


def test_two_terms_that_read_the_same_are_refused() -> None:
    lexicon = {
        "categories": [{"name": "a", "severity": "warn", "legal_basis": "x", "terms": ["最佳", "最 佳"]}]
    }
    with pytest.raises(InvalidPolicy, match="read the same"):
        Matcher(lexicon, 1)


def test_a_term_without_letters_is_refused() -> None:
    lexicon = {"categories": [{"name": "a", "severity": "warn", "legal_basis": "x", "terms": ["- -"]}]}
    with pytest.raises(InvalidPolicy, match="no letters"):
        Matcher(lexicon, 1)


def test_the_shipped_lexicon_cites_a_legal_basis_for_each_category_and_flags_the_named_terms() -> None:
    lexicon = seed_rules(48)["lexicon"]
    assert all(c["legal_basis"] and c["severity"] in ("block", "warn") for c in lexicon["categories"])
    matcher = Matcher(lexicon, 1)
    for term in ("最佳", "第一", "国家级", "顶级", "国家机关推荐", "根治"):
        assert [f["term"] for f in matcher.check({"body": f"本品{term}"})] == [term]


def test_ascii_text_folds_as_each_of_its_characters_does() -> None:
    # ASCII takes a shorter way (str.lower): it must read as the character-by-character fold.
    text = "".join(chr(c) for c in range(128)) + " Mix of CAPS, No.1 and no. 1!"
    assert _fold_text(text).text == "".join(fold(c) for c in text)
    assert spans("We are NO. 1 in town") == [("No.1", 7, 12, "NO. 1")]

"""TTS text front-end: hand-written goldens, number words, and a property test over random Unicode."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.tts.text import TextFrontEnd, numbers
from models.tts.text.frontend import MAX_TEXT_CHARS, TextError
from models.tts.text.symbols import SYMBOLS

GOLDEN = Path(__file__).parent / "data" / "tts_text_golden.tsv"


def _unescape(s: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), s).replace("\\n", "\n")


def _goldens() -> list[tuple[str, str]]:
    rows = []
    for line in GOLDEN.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            src, _, want = line.partition("\t")
            rows.append((_unescape(src), want))
    return rows


def test_there_are_at_least_100_goldens() -> None:
    assert len(_goldens()) >= 100


@pytest.mark.parametrize(("text", "expected"), _goldens())
def test_golden(text: str, expected: str) -> None:
    assert TextFrontEnd().normalize(text) == expected


def test_latin_policies() -> None:
    assert TextFrontEnd(latin="spell").normalize("আমি TV দেখি") == "আমি টি ভি দেখি।"
    assert TextFrontEnd(latin="keep").normalize("আমি Dhaka যাব") == "আমি dhaka যাব।"
    with pytest.raises(ValueError, match="latin"):
        TextFrontEnd(latin="translate")


def test_lakh_word() -> None:
    assert TextFrontEnd(lakh="লক্ষ").normalize("২০০০০০") == "দুই লক্ষ।"


def test_sentence_split() -> None:
    fe = TextFrontEnd()
    assert fe.sentences("এক। দুই? তিন! চার") == ["এক।", "দুই?", "তিন!", "চার।"]
    assert fe.sentences("") == [] and fe.sentences(" \n ।।") == []


def test_cardinal_grouping_and_limits() -> None:
    assert numbers.cardinal(10**9) == "একশত কোটি"
    assert numbers.cardinal(10**15) == numbers.digits("1" + "0" * 15)  # too large: digit by digit
    with pytest.raises(ValueError):
        numbers.cardinal(-1)
    assert [numbers.day_of_month(d) for d in (1, 2, 3, 4, 5, 18, 19, 31)] == [
        "পয়লা", "দোসরা", "তেসরা", "চৌঠা", "পাঁচই", "আঠারোই", "উনিশে", "একত্রিশে"]


def test_ids_use_only_the_symbol_table() -> None:
    fe = TextFrontEnd()
    ids = fe.ids(fe.normalize("আমি ভাত খাই, তুমি?"))
    assert ids and all(0 < i < len(SYMBOLS) for i in ids)
    assert "".join(SYMBOLS[i] for i in ids) == "আমি ভাত খাই, তুমি?"


def test_bad_input_is_refused_clearly() -> None:
    with pytest.raises(TextError, match="longer"):
        TextFrontEnd().sentences("ক" * (MAX_TEXT_CHARS + 1))
    with pytest.raises(TextError, match="str"):
        TextFrontEnd().sentences(b"bytes")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_unicode_never_raises_and_uses_only_model_symbols(text: str) -> None:
    out = TextFrontEnd().normalize(text)
    assert set(out) <= set(SYMBOLS) - {"_"}
    assert out == "" or out[-1] in "।?!"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("০১২৩৪৫৬৭৮৯0123456789 .,:/-%৳টাকাম$+"), max_size=40))
def test_random_numbers_never_raise(text: str) -> None:
    out = TextFrontEnd().normalize(text)
    assert not re.search(r"[0-9০-৯]", out)

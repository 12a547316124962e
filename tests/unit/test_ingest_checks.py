"""The vectorised check codes agree with the scalar validators in puhui.data.identifiers."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.data.identifiers import (
    ID_CHECK_CHARS,
    USCC_ALPHABET,
    id_check_char,
    is_valid_id_number,
    is_valid_phone,
    is_valid_uscc,
    make_id_numbers,
    make_usccs,
    uscc_check_char,
)
from puhui.data.ingest import checks
from puhui.data.ingest.checks import problems

# ASCII only: the scalar validators' ``\d`` also accepts non-ASCII digits (see test below).
_USCC_CHARS = USCC_ALPHABET + "IOZSV" + "abc-"
_ID_CHARS = "0123456789X"


def _vector_ok(check: str, values: list[str]) -> list[bool]:
    bad = set(problems(check, pl.Series(values, dtype=pl.String)).get_column("value"))
    return [v not in bad for v in values]


@st.composite
def usccs(draw) -> str:
    """Well-formed codes, some with their right check character, some mutated."""
    kind = draw(st.sampled_from(["valid", "wrong_check", "random", "wrong_length"]))
    body = draw(st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17))
    if kind == "valid":
        return body + uscc_check_char(body)
    if kind == "wrong_check":
        good = uscc_check_char(body)
        return body + draw(st.sampled_from([c for c in USCC_ALPHABET if c != good]))
    if kind == "random":
        return draw(st.text(alphabet=_USCC_CHARS, min_size=18, max_size=18))
    return draw(st.text(alphabet=_USCC_CHARS, max_size=20))


@st.composite
def id_numbers(draw) -> str:
    kind = draw(st.sampled_from(["valid", "wrong_check", "any_date", "random"]))
    if kind == "random":
        return draw(st.text(alphabet=_ID_CHARS + "x ", max_size=19))
    region = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    if kind == "any_date":
        birth = draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
    else:
        birth = draw(st.dates()).strftime("%Y%m%d")
    body = region + birth + draw(st.text(alphabet="0123456789", min_size=3, max_size=3))
    if len(body) != 17:
        return body
    good = id_check_char(body)
    if kind == "wrong_check":
        return body + draw(st.sampled_from([c for c in ID_CHECK_CHARS if c != good]))
    return body + good


@settings(max_examples=40, deadline=None)
@given(st.lists(usccs(), min_size=1, max_size=60))
def test_vectorised_uscc_check_agrees_with_the_scalar_check(values):
    assert _vector_ok("uscc", values) == [is_valid_uscc(v) for v in values]


@settings(max_examples=40, deadline=None)
@given(st.lists(id_numbers(), min_size=1, max_size=60))
def test_vectorised_id_number_check_agrees_with_the_scalar_check(values):
    assert _vector_ok("id_number", values) == [is_valid_id_number(v) for v in values]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(alphabet="0123456789 +", min_size=0, max_size=13), max_size=60))
def test_vectorised_phone_check_agrees_with_the_scalar_check(values):
    assert _vector_ok("phone", values) == [is_valid_phone(v) for v in values]


def test_generated_identifiers_pass_the_vectorised_checks():
    codes = make_usccs(np.array(["330102"] * 500), np.arange(500))
    births = np.datetime64("1960-02-29") + np.arange(500) * 37
    people = make_id_numbers(np.array(["330106"] * 500), births, np.arange(500))
    assert problems("uscc", pl.Series(codes)).is_empty()
    assert problems("id_number", pl.Series(people)).is_empty()


def test_each_kind_of_fault_gets_its_own_reason():
    body = "91330100X0000000"
    code = body + "0"
    good = code + uscc_check_char(code)
    wrong = code + ("1" if good[-1] != "1" else "2")
    found = dict(problems("uscc", pl.Series([good, wrong, "91330100I00000000A"])).iter_rows())
    assert found == {wrong: checks.USCC_WRONG_CHECK, "91330100I00000000A": checks.USCC_MALFORMED}
    february_30 = "33010219900230001"
    found = dict(problems("id_number", pl.Series([february_30 + "0", "3301"])).iter_rows())
    assert found == {february_30 + "0": checks.ID_BAD_DATE, "3301": checks.ID_MALFORMED}


def test_division_and_industry_codes_are_checked_against_the_reference_data():
    divisions = problems("division_code", pl.Series(["330102", "330100", "110101", "339999"]))
    assert sorted(divisions.get_column("value")) == ["110101", "339999"]
    industries = problems("industry_code", pl.Series(["C17", "C99", "c17"]))
    assert sorted(industries.get_column("value")) == ["C99", "c17"]


def test_vectorised_checks_accept_only_ascii_digits_and_no_trailing_newline():
    """As strict as the scalar validators: ASCII digits only, nothing after the last one."""
    arabic_indic = "١٣٨١٢٣٤٥٦٧٨"
    assert not is_valid_phone("13812345678\n")
    assert _vector_ok("phone", ["13812345678\n", arabic_indic, "13812345678"]) == [
        False,
        False,
        True,
    ]

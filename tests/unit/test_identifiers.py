"""Check codes of Chinese identifiers, scalar and vectorised."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.data.identifiers import (
    USCC_ALPHABET,
    id_check_char,
    is_valid_id_number,
    is_valid_phone,
    is_valid_uscc,
    make_id_numbers,
    make_usccs,
    mask_id_number,
    mask_phone,
    uscc_check_char,
)


def test_a_published_uscc_example_validates():
    # The format example printed in many public guides to GB 32100-2015.
    assert is_valid_uscc("91350100M000100Y43")


def test_uscc_with_a_wrong_check_character_is_rejected():
    code = "91330100X00000000J"
    assert is_valid_uscc(code)
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    assert not is_valid_uscc(wrong)


@pytest.mark.parametrize("bad", ["", "91330100X0000000", "91330100I00000000J", None, 12345])
def test_malformed_usccs_are_rejected(bad):
    assert not is_valid_uscc(bad)


def test_identity_number_check_digit_follows_gb11643():
    # The standard's own worked example: 11010519491231002X.
    assert id_check_char("11010519491231002") == "X"
    assert is_valid_id_number("11010519491231002X")
    assert not is_valid_id_number("110105194912310021")


def test_identity_number_with_impossible_birth_date_is_rejected():
    first17 = "33010219800231001"  # 31 February
    assert not is_valid_id_number(first17 + id_check_char(first17))


@given(st.lists(st.integers(min_value=0, max_value=31**8 - 1), min_size=1, max_size=50))
def test_vectorised_usccs_agree_with_the_scalar_check(serials):
    codes = make_usccs(np.array(["330100"] * len(serials)), np.array(serials))
    for code in codes:
        assert uscc_check_char(code[:17]) == code[17]
        assert set(code) <= set(USCC_ALPHABET)


def test_distinct_serials_give_distinct_usccs():
    codes = make_usccs(np.array(["330782"] * 1000), np.arange(1000))
    assert len(set(codes)) == 1000


@given(
    st.dates(min_value=__import__("datetime").date(1950, 1, 1)),
    st.integers(min_value=900, max_value=999),
)
def test_vectorised_identity_numbers_are_valid(birth, sequence):
    numbers = make_id_numbers(
        np.array(["330102"]), np.array([birth], dtype="datetime64[D]"), np.array([sequence])
    )
    assert is_valid_id_number(numbers[0])
    assert numbers[0][14:17] == f"{sequence:03d}"


def test_masking_hides_the_middle_of_identity_numbers_and_phones():
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_phone("19901234567") == "199****4567"


def test_phone_numbers_need_eleven_digits_starting_with_one():
    assert is_valid_phone("13912345678")
    assert not is_valid_phone("23912345678")
    assert not is_valid_phone("1391234567")


@pytest.mark.parametrize(
    "check, value",
    [
        (is_valid_uscc, "91330100X00000000J\n"),
        (is_valid_phone, "13912345678\n"),
        (is_valid_id_number, "11010519491231002X\n"),
        (is_valid_uscc, "9133０100X00000000J"),  # full-width digit
        (is_valid_id_number, "1101051949123100２X"),
        (is_valid_phone, "1391234567８"),
    ],
)
def test_trailing_newlines_and_non_ascii_digits_are_rejected_not_raised(check, value):
    assert check(value) is False

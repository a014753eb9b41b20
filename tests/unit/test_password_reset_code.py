"""Password reset codes (``domain.accounts``): 60 random bits, typed by hand, bound to an account."""

import re

import pytest

from chalicelib.domain.accounts import new_reset_code, normalise_reset_code, reset_code_hash
from chalicelib.domain.errors import ValidationFailed


def test_a_code_is_three_groups_of_four_unambiguous_characters_and_reads_back_as_typed():
    codes = {new_reset_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){2}", code)
        canonical = normalise_reset_code(code)
        assert normalise_reset_code(code.lower().replace("-", " ")) == canonical == code.replace("-", "")


@pytest.mark.parametrize("typed", ["", "ABCD-EFGH-JKM", "ABCD-EFGH-JKMNP", "ABCD-EFGH-JKMI", "ABCD-EFGH-JKML"])
def test_a_code_of_the_wrong_length_or_with_a_letter_never_issued_names_code(typed):
    with pytest.raises(ValidationFailed) as refused:
        normalise_reset_code(typed)
    assert refused.value.field == "code"


def test_the_same_code_of_two_accounts_is_stored_under_two_keys():
    assert reset_code_hash("u1", "ABCDEFGHJKMN") != reset_code_hash("u2", "ABCDEFGHJKMN")

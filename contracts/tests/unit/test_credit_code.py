import pytest
from crm_contracts.credit_code import CreditCode, check_character, problem
from pydantic import TypeAdapter, ValidationError

VALID = "91350100M000100Y43"  # a published example of a real code
CODE = TypeAdapter(CreditCode)


def test_a_known_real_code_is_valid():
    assert problem(VALID) is None
    assert check_character(VALID[:17]) == "3"


def test_a_check_character_that_would_be_31_is_0():
    first17 = next(
        f"9131000{n:010d}" for n in range(10_000) if check_character(f"9131000{n:010d}") == "0"
    )
    assert problem(first17 + "0") is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y4", "18 characters, not 17"),
        ("91350100M000100Y433", "18 characters, not 19"),
        ("91350100M000100Y44", "check character is 4, expected 3"),
        ("91350100MO00100Y43", "not allowed in a credit code: O"),
        ("9135010ZM000I00Y43", "not allowed in a credit code: IZ"),
    ],
)
def test_a_wrong_code_says_what_is_wrong(code, reason):
    assert reason in problem(code)


def test_the_field_accepts_lower_case_and_spaces_around_and_stores_upper_case():
    assert CODE.validate_python(" 91350100m000100y43 ") == VALID


def test_the_field_refuses_a_wrong_check_character_with_the_reason():
    with pytest.raises(ValidationError, match="expected 3"):
        CODE.validate_python("91350100M000100Y49")

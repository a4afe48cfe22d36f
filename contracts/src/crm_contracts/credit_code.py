"""The unified social credit code (GB 32100-2015): 18 characters, the last a check character."""

from typing import Annotated

from pydantic import AfterValidator

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    total = sum(CHARSET.index(char) * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def problem(code: str) -> str | None:
    """Why `code` is not a valid credit code, or None when it is."""
    if len(code) != 18:
        return f"a credit code has 18 characters, not {len(code)}"
    wrong = sorted({char for char in code if char not in CHARSET})
    if wrong:
        return f"characters not allowed in a credit code: {''.join(wrong)}"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]}, expected {expected}"
    return None


def _validated(code: str) -> str:
    code = code.strip().upper()
    if (reason := problem(code)) is not None:
        raise ValueError(reason)
    return code


CreditCode = Annotated[str, AfterValidator(_validated)]

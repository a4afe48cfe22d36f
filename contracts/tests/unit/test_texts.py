import pytest
from crm_contracts.common import TEXT_MAX_LENGTH
from crm_contracts.texts import fit, listing, quoted


def test_a_text_that_fits_is_kept_as_it_is():
    assert fit("x" * TEXT_MAX_LENGTH) == "x" * TEXT_MAX_LENGTH


def test_a_longer_text_is_cut_with_an_ellipsis_to_the_limit():
    cut = fit("word " * 200)
    assert len(cut) <= TEXT_MAX_LENGTH and cut.endswith("word…")


@pytest.mark.parametrize("limit", [1, 2, 10])
def test_even_a_tiny_limit_is_kept(limit):
    assert len(fit("abcdefghijklmnop", limit)) <= limit


def test_a_short_list_is_listed_whole():
    assert listing(["north", "west"], "regions") == "north, west"


def test_a_long_list_says_how_many_and_names_the_first_that_fit():
    regions = ["East", "North", *(f"place {i}" for i in range(2198))]
    summary = listing(regions, "regions", limit=40)
    assert summary == "2,200 regions: East, North, place 0, …"


def test_a_summary_never_exceeds_its_limit_even_with_the_longest_names():
    summary = listing(["n" * 100] * 200, "industries")
    assert summary.startswith("200 industries: nnn") and len(summary) <= 300


def test_a_quoted_value_is_stripped_and_cut_to_a_label():
    assert quoted("  east ") == "'east'"
    assert len(quoted("e" * 500)) == 102

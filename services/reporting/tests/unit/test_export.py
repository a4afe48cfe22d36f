import csv
import io

from crm_reporting.export import neutralised, to_csv


def test_a_cell_that_would_start_a_formula_is_quoted():
    for dangerous in ("=1+1", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"):
        assert neutralised(dangerous) == f"'{dangerous}"


def test_plain_cells_numbers_and_nested_values_are_left_as_they_are():
    assert neutralised("Acme") == "Acme" and neutralised(-3) == -3 and neutralised(None) is None
    assert neutralised({"CNY": 1.5}) == '{"CNY": 1.5}'


def test_the_csv_writer_neutralises_every_cell():
    text = to_csv([{"region": '=HYPERLINK("http://evil","x")', "customers": 2}])
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row == {"region": '\'=HYPERLINK("http://evil","x")', "customers": "2"}

"""Ratios from up to three years of financial statements (DOMAIN.md, part 5). Pure."""

from decimal import Decimal

from crm_contracts import FinancialRatios, FinancialStatement


def _ratio(numerator: Decimal | None, denominator: Decimal | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return round(float(numerator / denominator), 4)


def ratios(statements: list[FinancialStatement]) -> list[FinancialRatios]:
    """One set of ratios per year, oldest first. Receivables turnover uses the average of the year's
    and the previous year's receivables when the previous year is there, else the year's own."""
    by_year = sorted(statements, key=lambda statement: statement.year)
    result = []
    for index, year in enumerate(by_year):
        previous = (
            by_year[index - 1] if index and by_year[index - 1].year == year.year - 1 else None
        )
        receivables = year.accounts_receivable
        if (
            receivables is not None
            and previous is not None
            and previous.accounts_receivable is not None
        ):
            receivables = (receivables + previous.accounts_receivable) / 2
        result.append(
            FinancialRatios(
                year=year.year,
                current_ratio=_ratio(year.current_assets, year.current_liabilities),
                debt_to_asset_ratio=_ratio(year.total_liabilities, year.total_assets),
                sales_profit_margin=_ratio(year.net_profit, year.revenue),
                receivables_turnover=_ratio(year.revenue, receivables),
                operating_cash_flow=year.operating_cash_flow,
            )
        )
    return result


def problem(statements: list[FinancialStatement]) -> str | None:
    years = [statement.year for statement in statements]
    if len(set(years)) != len(years):
        return f"one statement per year: {sorted(years)}"
    if years and max(years) - min(years) > 2:
        return f"statements cover at most three consecutive years, not {min(years)}-{max(years)}"
    return None

"""Freight volume bands, as managers read them."""

BANDS = ((1000, "1000t+"), (500, "500-1000t"), (200, "200-500t"), (50, "50-200t"), (0, "under 50t"))


def freight_band(tons: float | None) -> str | None:
    if tons is None:
        return None
    return next((label for floor, label in BANDS if tons >= floor), None)

"""Keys that make two customer records look like the same company. Pure: no I/O."""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

# Matched against whole words only: glued onto a word they are part of the name ("Costco", "Zinc").
# "group" is missing on purpose: "Xinjiang Mining Group" and "Xinjiang Mining" may be different
# companies.
LATIN_SUFFIXES = frozenset(
    {
        "coltd",
        "colimited",
        "limited",
        "ltd",
        "incorporated",
        "inc",
        "corporation",
        "corp",
        "company",
        "co",
        "llc",
        "plc",
    }
)
# Chinese names have no spaces, so these are matched at the end of the text; longest first.
CHINESE_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "公司")

FREE_MAIL_DOMAINS = frozenset(
    {
        "qq.com",
        "163.com",
        "126.com",
        "139.com",
        "sina.com",
        "sina.cn",
        "sohu.com",
        "foxmail.com",
        "aliyun.com",
        "yeah.net",
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
    }
)

MIN_PHONE_DIGITS = 7
MOBILE_DIGITS = 11


@dataclass(frozen=True)
class DedupKeys:
    name: str
    phones: tuple[str, ...]  # sorted, unique
    domains: tuple[str, ...]  # sorted, unique, free-mail domains excluded


def normalize_name(name: str) -> str:
    text = unicodedata.normalize("NFKC", name or "").casefold()
    # Words are runs of letters and digits; everything else (punctuation, spaces, brackets) just
    # separates them.
    words = re.findall(r"[^\W_]+", text)
    while True:
        shorter = _without_suffix(words)
        # Never strip a name to nothing: "Ltd" alone stays "ltd".
        if shorter == words or not shorter:
            return "".join(words)
        words = shorter


def normalize_phone(phone: str) -> str | None:
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", phone or "") if "0" <= ch <= "9")
    for country_code in ("0086", "86"):
        # Only a mobile-length rest proves the prefix was a country code, not the start of a local
        # number.
        if digits.startswith(country_code) and len(digits) - len(country_code) >= MOBILE_DIGITS:
            digits = digits[len(country_code) :]
            break
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


def email_domain(address_or_url: str) -> str | None:
    text = (address_or_url or "").strip()
    if "@" in text and "://" not in text:
        host = re.split(r"[/?#:>\s]", text.rsplit("@", 1)[1].strip(), maxsplit=1)[0]
    else:
        # A bare host parses as a path unless it is given an empty scheme.
        try:
            host = urlsplit(text if "://" in text else f"//{text}").hostname or ""
        except ValueError:  # e.g. an unclosed "[" read as an IPv6 address
            return None
    host = host.lower().strip(".")
    host = host.removeprefix("www.")
    return host if "." in host and not any(ch.isspace() for ch in host) else None


def dedup_keys(name: str, phones: Iterable[str | None], emails: Iterable[str | None]) -> DedupKeys:
    phone_keys = {normalize_phone(p) for p in phones if p}
    domain_keys = {email_domain(e) for e in emails if e}
    return DedupKeys(
        name=normalize_name(name),
        phones=tuple(sorted(p for p in phone_keys if p)),
        domains=tuple(sorted(d for d in domain_keys if d and d not in FREE_MAIL_DOMAINS)),
    )


def duplicate_reasons(a: DedupKeys, b: DedupKeys) -> list[str]:
    reasons = []
    if a.name and a.name == b.name:
        reasons.append(f"same name once normalised ('{a.name}')")
    reasons += [f"shared phone {phone}" for phone in sorted(set(a.phones) & set(b.phones))]
    reasons += [
        f"shared e-mail domain {domain}" for domain in sorted(set(a.domains) & set(b.domains))
    ]
    return reasons


def _without_suffix(words: list[str]) -> list[str]:
    last = words[-1] if words else ""
    if last in LATIN_SUFFIXES:
        return words[:-1]
    for suffix in CHINESE_SUFFIXES:
        if last.endswith(suffix):
            rest = last[: -len(suffix)]
            return [*words[:-1], rest] if rest else words[:-1]
    return words

import pytest
from crm_customer.domain.dedup import (
    FREE_MAIL_DOMAINS,
    DedupKeys,
    dedup_keys,
    duplicate_reasons,
    email_domain,
    normalize_name,
    normalize_phone,
)

# --- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "Acme Freight",
        "ACME FREIGHT",
        "acme freight",
        "  Acme   Freight ",
        "Acme-Freight",
        "Acme.Freight!",
        "AcmeFreight",
        "Ａｃｍｅ　Ｆｒｅｉｇｈｔ",
    ],
)
def test_case_spaces_and_punctuation_do_not_tell_two_names_apart(written):
    assert normalize_name(written) == "acmefreight"


@pytest.mark.parametrize(
    "written",
    [
        "Acme Freight Co., Ltd.",
        "Acme Freight Co. Ltd",
        "Acme Freight Co.,Ltd",
        "Acme Freight CoLtd",
        "Acme Freight Co., Limited",
        "Acme Freight Limited",
        "Acme Freight Ltd",
        "Acme Freight Inc.",
        "Acme Freight Incorporated",
        "Acme Freight Corp.",
        "Acme Freight Corporation",
        "Acme Freight Company",
        "Acme Freight Co",
        "Acme Freight LLC",
        "Acme Freight PLC",
        "Acme Freight Company Limited",
        "Acme Freight (Co., Ltd.)",
    ],
)
def test_english_legal_forms_do_not_tell_two_names_apart(written):
    assert normalize_name(written) == "acmefreight"


@pytest.mark.parametrize(
    "written",
    [
        "华东冷链",
        "华东冷链有限公司",
        "华东冷链股份有限公司",
        "华东冷链有限责任公司",
        "华东冷链公司",
        "华东冷链 有限公司",
    ],
)
def test_chinese_legal_forms_do_not_tell_two_names_apart(written):
    assert normalize_name(written) == "华东冷链"


def test_full_width_brackets_and_commas_are_punctuation_like_any_other():
    assert (
        normalize_name("华东冷链（上海）有限公司")
        == normalize_name("华东冷链(上海)有限公司")
        == "华东冷链上海"
    )
    assert normalize_name("Acme，Freight") == normalize_name("Acme, Freight") == "acmefreight"


def test_legal_forms_are_stripped_again_and_again_until_none_is_left_at_the_end():
    assert normalize_name("Acme Co. Ltd") == normalize_name("Acme Ltd Co Inc") == "acme"
    assert normalize_name("Acme Freight Company 有限公司") == "acmefreight"


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("Ltd", "ltd"),
        ("Co., Ltd.", "co"),
        ("有限公司", "有限公司"),
        ("公司", "公司"),
        ("Company Limited", "company"),
    ],
)
def test_a_name_that_is_only_a_legal_form_is_never_stripped_to_nothing(written, kept):
    assert normalize_name(written) == kept


def test_group_is_part_of_the_name_not_a_legal_form():
    assert normalize_name("Xinjiang Mining Group") == "xinjiangmininggroup"
    assert normalize_name("Xinjiang Mining Group Co., Ltd.") == "xinjiangmininggroup"
    assert normalize_name("Xinjiang Mining Group") != normalize_name("Xinjiang Mining")


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("Costco", "costco"),
        ("Zinc Logistics", "zinclogistics"),
        ("Monaco Shipping Co", "monacoshipping"),
        ("Acme Corporate Travel", "acmecorporatetravel"),
    ],
)
def test_a_legal_form_glued_inside_a_word_is_part_of_the_name(written, normal):
    assert normalize_name(written) == normal


def test_legal_forms_are_only_stripped_at_the_end():
    assert normalize_name("Ltd Acme") == "ltdacme"
    assert normalize_name("公司华东") == "公司华东"


@pytest.mark.parametrize("empty", ["", "   ", "!!!", "（）"])
def test_a_name_with_no_letters_or_digits_normalises_to_empty(empty):
    assert normalize_name(empty) == ""


# --- phones ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "13800138000",
        "+86 138-0013-8000",
        "+86 13800138000",
        "0086 138 0013 8000",
        "86 13800138000",
        "8613800138000",
        "(+86) 138.0013.8000",
        "138 0013 8000",
        "＋８６ １３８００１３８０００",
    ],
)
def test_a_mobile_number_is_the_same_with_or_without_the_country_code_and_separators(written):
    assert normalize_phone(written) == "13800138000"


@pytest.mark.parametrize(
    ("written", "digits"),
    [
        ("021-6234 5678", "02162345678"),
        ("(021) 62345678", "02162345678"),
        ("0755-8888-6666", "075588886666"),
        ("6234-5678", "62345678"),
        ("1234567", "1234567"),
    ],
)
def test_a_landline_is_kept_as_its_digits_with_the_area_code(written, digits):
    assert normalize_phone(written) == digits


def test_a_leading_86_is_kept_when_what_follows_is_too_short_to_be_a_mobile():
    assert normalize_phone("8612 3456") == "86123456"
    assert normalize_phone("+86 21 6234 5678") == "862162345678"


@pytest.mark.parametrize("too_short", ["", "   ", "123456", "12-34-56", "ext.", "+86", "none"])
def test_fewer_than_seven_digits_is_no_phone_at_all(too_short):
    assert normalize_phone(too_short) is None


# --- e-mail domains -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "sales@acme.com",
        "Sales@ACME.com",
        "  sales@acme.com ",
        "sales@www.acme.com",
        "Acme Sales <sales@acme.com>",
        "mailto:sales@acme.com",
        "odd@name@acme.com",
        "https://www.Acme.com/about",
        "http://acme.com",
        "https://acme.com:8443/x?y=1#z",
        "HTTPS://WWW.ACME.COM",
        "www.acme.com",
        "acme.com",
        "Acme.com/contact",
        "www.acme.com.",
    ],
)
def test_an_email_a_url_and_a_bare_host_give_the_same_domain(written):
    assert email_domain(written) == "acme.com"


def test_only_one_leading_www_is_dropped_and_subdomains_are_kept():
    assert email_domain("ops@mail.acme.com") == "mail.acme.com"
    assert email_domain("www.www.acme.com") == "www.acme.com"


@pytest.mark.parametrize(
    "nothing",
    [
        "",
        "   ",
        "None",
        "null",
        "n/a",
        "sales@",
        "sales@localhost",
        "localhost",
        "https://",
        "http://[broken",
        None,
    ],
)
def test_empty_or_dotless_input_has_no_domain(nothing):
    assert email_domain(nothing) is None


def test_the_free_mail_list_holds_the_common_chinese_and_international_providers():
    assert {
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
    } == FREE_MAIL_DOMAINS


# --- keys -----------------------------------------------------------------------------------------


def test_keys_are_normalised_sorted_unique_and_leave_free_mail_out():
    keys = dedup_keys(
        "Acme Freight Co., Ltd.",
        ["+86 138-0013-8000", "13800138000", "021-6234 5678"],
        [
            "zhang@qq.com",
            "li@acme.com",
            "https://www.acme.com",
            "wang@acme-logistics.cn",
            "x@Gmail.com",
        ],
    )
    assert keys == DedupKeys(
        name="acmefreight",
        phones=("02162345678", "13800138000"),
        domains=("acme-logistics.cn", "acme.com"),
    )


def test_keys_ignore_missing_empty_and_unusable_entries():
    keys = dedup_keys(
        "Acme", [None, "", "  ", "12345", "13800138000"], [None, "", "no-at-sign", "a@localhost"]
    )
    assert keys == DedupKeys(name="acme", phones=("13800138000",), domains=())


def test_keys_with_nothing_but_a_name():
    assert dedup_keys("Acme", [], []) == DedupKeys(name="acme", phones=(), domains=())


# --- likely duplicates ----------------------------------------------------------------------------


def test_the_same_name_once_normalised_is_a_likely_duplicate():
    a = dedup_keys("Acme Freight Co., Ltd.", ["13800138000"], ["a@acme.com"])
    b = dedup_keys("ACME FREIGHT", ["13900139000"], ["b@other.com"])
    assert duplicate_reasons(a, b) == ["same name once normalised ('acmefreight')"]


def test_a_shared_phone_is_a_likely_duplicate():
    a = dedup_keys("Acme", ["+86 138-0013-8000"], [])
    b = dedup_keys("Zenith", ["13800138000"], [])
    assert duplicate_reasons(a, b) == ["shared phone 13800138000"]


def test_a_shared_company_domain_is_a_likely_duplicate():
    a = dedup_keys("Acme", [], ["li@acme.com"])
    b = dedup_keys("Zenith", [], ["https://www.acme.com/about"])
    assert duplicate_reasons(a, b) == ["shared e-mail domain acme.com"]


def test_a_shared_free_mail_provider_is_not_a_reason():
    a = dedup_keys("Acme", [], ["li@qq.com", "x@gmail.com"])
    b = dedup_keys("Zenith", [], ["wang@qq.com", "y@gmail.com"])
    assert duplicate_reasons(a, b) == []


def test_every_reason_is_listed_name_first_then_phones_then_domains():
    a = dedup_keys(
        "华东冷链有限公司",
        ["13800138000", "021-62345678", "13700137000"],
        ["a@hdll.cn", "b@hdll.com"],
    )
    b = dedup_keys(
        "华东冷链", ["021 6234 5678", "+86 13800138000"], ["https://hdll.com", "c@hdll.cn"]
    )
    assert duplicate_reasons(a, b) == [
        "same name once normalised ('华东冷链')",
        "shared phone 02162345678",
        "shared phone 13800138000",
        "shared e-mail domain hdll.cn",
        "shared e-mail domain hdll.com",
    ]


def test_nothing_in_common_is_not_a_likely_duplicate():
    a = dedup_keys("Acme", ["13800138000"], ["a@acme.com"])
    b = dedup_keys("Zenith", ["13900139000"], ["b@zenith.com"])
    assert duplicate_reasons(a, b) == []


def test_two_empty_names_are_not_the_same_name():
    a = dedup_keys("!!!", [], [])
    b = dedup_keys("", [], [])
    assert (a.name, b.name) == ("", "")
    assert duplicate_reasons(a, b) == []


def test_the_reasons_are_the_same_whichever_record_comes_first():
    a = dedup_keys("Acme Ltd", ["13800138000"], ["a@acme.com"])
    b = dedup_keys("Acme", ["+8613800138000"], ["www.acme.com"])
    assert duplicate_reasons(a, b) == duplicate_reasons(b, a) != []

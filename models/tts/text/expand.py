"""Written forms to spoken Bangla: numbers, dates, times, phone numbers, currency, units, abbreviations, symbols.

Each rule is a regular expression with a function that returns the words; ``expand`` applies them
in a fixed order (the more specific forms first: a date before a fraction, a phone number before a
cardinal). Input is text after :func:`models.tts.text.normalize.clean_text` with Bengali digits
already turned into ASCII ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from models.tts.text import numbers as num

_BN = "\u0980-\u09ff"
_NOT_BN_BEFORE = f"(?<![{_BN}A-Za-z0-9])"

GREGORIAN_MONTHS = ("জানুয়ারি", "ফেব্রুয়ারি", "মার্চ", "এপ্রিল", "মে", "জুন", "জুলাই", "আগস্ট",
                    "সেপ্টেম্বর", "অক্টোবর", "নভেম্বর", "ডিসেম্বর")
BANGLA_MONTHS = ("বৈশাখ", "জ্যৈষ্ঠ", "আষাঢ়", "শ্রাবণ", "ভাদ্র", "আশ্বিন", "কার্তিক", "অগ্রহায়ণ", "পৌষ", "মাঘ",
                 "ফাল্গুন", "চৈত্র")
_MONTH_NAMES = "|".join(sorted(GREGORIAN_MONTHS + BANGLA_MONTHS, key=len, reverse=True))
_YEAR_WORDS = "সাল|সালে|সালের|সালটা|খ্রিস্টাব্দ|খ্রিস্টাব্দে|খ্রিষ্টাব্দ|খ্রিষ্টাব্দে|বঙ্গাব্দ|বঙ্গাব্দে|সন"

ABBREVIATIONS = {
    "ডা.": "ডাক্তার", "মো.": "মোহাম্মদ", "মোছা.": "মোছাম্মৎ", "মোসা.": "মোসাম্মৎ", "ড.": "ডক্টর",
    "অধ্যা.": "অধ্যাপক", "প্রফে.": "প্রফেসর", "খ্রি.": "খ্রিস্টাব্দ", "খ্রিপূ.": "খ্রিস্টপূর্ব",
    "বি.দ্র.": "বিশেষ দ্রষ্টব্য", "কি.মি.": "কিলোমিটার", "কিমি.": "কিলোমিটার", "সে.মি.": "সেন্টিমিটার",
    "মি.মি.": "মিলিমিটার", "কেজি.": "কেজি", "লি.": "লিমিটেড", "নং": "নম্বর", "জনাব.": "জনাব",
}
UNITS = {
    "km/h": "কিলোমিটার প্রতি ঘণ্টা", "kmph": "কিলোমিটার প্রতি ঘণ্টা", "km": "কিলোমিটার", "kg": "কিলোগ্রাম",
    "mg": "মিলিগ্রাম", "g": "গ্রাম", "cm": "সেন্টিমিটার", "mm": "মিলিমিটার", "m": "মিটার", "ml": "মিলিলিটার",
    "l": "লিটার", "kb": "কিলোবাইট", "mb": "মেগাবাইট", "gb": "গিগাবাইট", "mah": "মিলিঅ্যাম্পিয়ার আওয়ার",
    "°c": "ডিগ্রি সেলসিয়াস", "°f": "ডিগ্রি ফারেনহাইট", "°": "ডিগ্রি", "কিমি": "কিলোমিটার",
}
CURRENCY = {"৳": "টাকা", "tk": "টাকা", "tk.": "টাকা", "$": "ডলার", "€": "ইউরো", "£": "পাউন্ড", "₹": "রুপি"}
SUBUNIT = {"টাকা": "পয়সা", "ডলার": "সেন্ট", "ইউরো": "সেন্ট", "পাউন্ড": "পেনি", "রুপি": "পয়সা"}
SYMBOL_WORDS = {"&": "এবং", "+": "যোগ", "=": "সমান", "@": "অ্যাট", "%": "শতাংশ", "#": "নম্বর", "×": "গুণ",
                "÷": "ভাগ", "/": "বা"}
VULGAR_FRACTIONS = {"½": "1/2", "¼": "1/4", "¾": "3/4", "⅓": "1/3", "⅔": "2/3"}
LATIN_LETTERS = dict(zip("abcdefghijklmnopqrstuvwxyz", (
    "এ বি সি ডি ই এফ জি এইচ আই জে কে এল এম এন ও পি কিউ আর এস টি ইউ ভি ডাবলিউ এক্স ওয়াই জেড").split(), strict=True))
_BN_DIGITS = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")

Rule = tuple[re.Pattern[str], Callable[[re.Match[str], str], str]]


def _int(s: str) -> int:
    return int(s.replace(",", ""))


def _amount(whole: str, frac: str | None, unit: str, lakh: str) -> str:
    words = f"{num.cardinal(_int(whole), lakh)} {unit}"
    if frac and int(frac):
        cents = int(frac.ljust(2, "0")[:2])
        words += f" {num.cardinal(cents, lakh)} {SUBUNIT[unit]}"
    return words


def _date(m: re.Match[str], lakh: str) -> str:
    d, mo, y = int(m["d"]), int(m["mo"]), m["y"]
    if not (1 <= d <= 31 and 1 <= mo <= 12):
        return m[0].replace("/", " ").replace("-", " ").replace(".", " ")
    yy = int(y) + (2000 if len(y) == 2 else 0)
    return f"{num.day_of_month(d)} {GREGORIAN_MONTHS[mo - 1]} {num.year(yy, lakh)}"


def _time(m: re.Match[str], lakh: str) -> str:
    h, mi = int(m["h"]), int(m["mi"])
    if h > 24 or mi > 59:
        return f"{num.cardinal(h, lakh)} {num.cardinal(mi, lakh)}"
    hour = num.cardinal(h, lakh) + "টা"
    if mi == 0:
        return hour
    said = re.match(r"\s*মিনিট", m.string[m.end():]) is not None  # "৯:০৫ মিনিটে" already says মিনিট
    return f"{hour} {num.cardinal(mi, lakh)}" + ("" if said else " মিনিট")


def _ordinal(m: re.Match[str], lakh: str) -> str:
    return num.ordinal(int(m["n"]), lakh)


def _number(m: re.Match[str], lakh: str) -> str:
    n = m["n"]
    if m["f"] is not None:
        return num.decimal(n.replace(",", ""), m["f"], lakh)
    if n.startswith("0") and len(n) > 1:
        return num.digits(n)  # codes, leading zeros: digit by digit
    return num.cardinal(_int(n), lakh)


def _rules() -> list[Rule]:
    amount = r"(?P<n>\d{1,3}(?:,\d{2,3})+|\d+)(?:\.(?P<f>\d+))?"
    cur = "|".join(re.escape(k) for k in sorted(CURRENCY, key=len, reverse=True))
    units = "|".join(re.escape(k) for k in sorted(UNITS, key=len, reverse=True))
    return [
        # phone numbers: +880…, 01…-… (11 digits), any + followed by 7+ digits: digit by digit
        (re.compile(r"\+\s?(\d[\d\- ]{6,}\d)"), lambda m, lk: "যোগ " + num.digits(m[1])),
        (re.compile(r"(?<!\d)(0\d{2,4}[\- ]?\d{3,4}[\- ]?\d{3,4})(?!\d)"), lambda m, lk: num.digits(m[1])),
        # dates: 21/02/1952, 21-2-52, 21.02.1952
        (re.compile(r"(?<!\d)(?P<d>\d{1,2})[/\-.](?P<mo>\d{1,2})[/\-.](?P<y>\d{4}|\d{2})(?!\d)"), _date),
        # day + month name: ২১ ফেব্রুয়ারি, 11 বৈশাখ (optionally a year after it)
        (re.compile(rf"(?<!\d)(?P<d>\d{{1,2}})\s*(?P<mon>{_MONTH_NAMES})(?:\s+(?P<y>\d{{4}}))?"),
         lambda m, lk: (f"{num.day_of_month(int(m['d']))} {m['mon']}" if 1 <= int(m["d"]) <= 31
                        else f"{num.cardinal(int(m['d']), lk)} {m['mon']}")
         + (f" {num.year(int(m['y']), lk)}" if m["y"] else "")),
        # years before সাল / খ্রিস্টাব্দ / বঙ্গাব্দ
        (re.compile(rf"(?<!\d)(?P<y>\d{{4}})(?P<sp>\s*)(?P<w>{_YEAR_WORDS})"),
         lambda m, lk: f"{num.year(int(m['y']), lk)}{m['sp'] or ' '}{m['w']}"),
        # times: 10:30, 9:05
        (re.compile(r"(?<!\d)(?P<h>\d{1,2}):(?P<mi>\d{2})(?!\d)"), _time),
        # currency before or after the amount: ৳500, Tk. 50.25, 50 Tk, $3.5
        (re.compile(rf"(?i)(?<![A-Za-z])(?P<c>{cur})\s?{amount}"),
         lambda m, lk: _amount(m["n"], m["f"], CURRENCY[m["c"].lower()], lk)),
        (re.compile(rf"(?i){amount}\s?(?P<c>tk\.?|৳)(?![A-Za-z])"),
         lambda m, lk: _amount(m["n"], m["f"], CURRENCY[m["c"].lower()], lk)),
        # percentages
        (re.compile(rf"{amount}\s?%"), lambda m, lk: f"{_number(m, lk)} শতাংশ"),
        # ordinals: ১ম ২য় ৩য় ৪র্থ ৬ষ্ঠ ২১তম ১১শ, 1st 2nd 3rd 4th
        (re.compile(r"(?<!\d)(?P<n>\d+)\s?(?:তম|র্থ|ষ্ঠ|য়|ম|শ)(?![\u0980-\u09ff])"), _ordinal),
        (re.compile(r"(?i)(?<!\d)(?P<n>\d+)(?:st|nd|rd|th)\b"), _ordinal),
        # fractions a/b → b ভাগের a
        (re.compile(r"(?<![\d/])(?P<a>\d+)\s?/\s?(?P<b>\d+)(?![\d/])"),
         lambda m, lk: f"{num.cardinal(int(m['b']), lk)} ভাগের {num.cardinal(int(m['a']), lk)}"),
        # numbers with a unit: 5 km, 41°C, ৫ কিমি
        (re.compile(rf"(?i){amount}\s?(?P<u>{units})(?![A-Za-z\u0980-\u09ff])"),
         lambda m, lk: f"{_number(m, lk)} {UNITS[m['u'].lower()]}"),
        # any other number (with thousands separators or a decimal part)
        (re.compile(amount), _number),
    ]


_RULES = _rules()
_ABBREVIATION = re.compile(_NOT_BN_BEFORE + "(" + "|".join(
    re.escape(k) + ("" if k.endswith(".") else f"(?![{_BN}])")
    for k in sorted(ABBREVIATIONS, key=len, reverse=True)) + ")")


def _spaced(m: re.Match[str], words: str) -> str:
    """``words`` set apart from its neighbours, except a Bangla suffix written against the number (২৮টা → আটাশটা)."""
    s, a, b = m.string, m.start(), m.end()
    before = " " if a > 0 and not s[a - 1].isspace() else ""
    after = "" if b >= len(s) or s[b].isspace() or "\u0980" <= s[b] <= "\u09ff" else " "
    return before + words + after
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z']*")


def expand(text: str, lakh: str = "লাখ") -> str:
    """``text`` with every written number, date, time, amount, unit and abbreviation spelled out in Bangla."""
    s = text.translate(_BN_DIGITS)
    for k, v in VULGAR_FRACTIONS.items():
        s = s.replace(k, v)
    s = _ABBREVIATION.sub(lambda m: ABBREVIATIONS[m[1]], s)
    for pattern, words in _RULES:
        s = pattern.sub(lambda m, w=words: _spaced(m, w(m, lakh)), s)
    for sym, word in SYMBOL_WORDS.items():
        s = s.replace(sym, f" {word} ")
    return s


def latin_words(text: str, policy: str) -> str:
    """Words in Latin script: ``drop`` them, ``spell`` them letter by letter in Bangla, or ``keep`` them (lower case)."""
    if policy == "keep":
        return _LATIN_WORD.sub(lambda m: m[0].lower(), text)
    if policy == "spell":
        return _LATIN_WORD.sub(lambda m: " ".join(LATIN_LETTERS[c] for c in m[0].lower() if c in LATIN_LETTERS), text)
    if policy == "drop":
        return _LATIN_WORD.sub(" ", text)
    raise ValueError(f"latin policy must be 'drop', 'spell' or 'keep', got {policy!r}")

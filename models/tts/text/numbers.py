"""Numbers as Bangla words: cardinals (শত, হাজার, লাখ/লক্ষ, কোটি), digits, decimals, ordinals, years, dates.

Every function takes a non-negative integer (or a digit string) and returns words separated by
single spaces. Bangla's 0–99 are irregular, so they are a table.
"""

from __future__ import annotations

_UNDER_100 = (
    "শূন্য এক দুই তিন চার পাঁচ ছয় সাত আট নয় "
    "দশ এগারো বারো তেরো চৌদ্দ পনেরো ষোলো সতেরো আঠারো উনিশ "
    "বিশ একুশ বাইশ তেইশ চব্বিশ পঁচিশ ছাব্বিশ সাতাশ আটাশ ঊনত্রিশ "
    "ত্রিশ একত্রিশ বত্রিশ তেত্রিশ চৌত্রিশ পঁয়ত্রিশ ছত্রিশ সাঁইত্রিশ আটত্রিশ ঊনচল্লিশ "
    "চল্লিশ একচল্লিশ বিয়াল্লিশ তেতাল্লিশ চুয়াল্লিশ পঁয়তাল্লিশ ছেচল্লিশ সাতচল্লিশ আটচল্লিশ ঊনপঞ্চাশ "
    "পঞ্চাশ একান্ন বাহান্ন তিপ্পান্ন চুয়ান্ন পঞ্চান্ন ছাপ্পান্ন সাতান্ন আটান্ন ঊনষাট "
    "ষাট একষট্টি বাষট্টি তেষট্টি চৌষট্টি পঁয়ষট্টি ছেষট্টি সাতষট্টি আটষট্টি ঊনসত্তর "
    "সত্তর একাত্তর বাহাত্তর তিয়াত্তর চুয়াত্তর পঁচাত্তর ছিয়াত্তর সাতাত্তর আটাত্তর ঊনআশি "
    "আশি একাশি বিরাশি তিরাশি চুরাশি পঁচাশি ছিয়াশি সাতাশি অষ্টাশি ঊননব্বই "
    "নব্বই একানব্বই বিরানব্বই তিরানব্বই চুরানব্বই পঁচানব্বই ছিয়ানব্বই সাতানব্বই আটানব্বই নিরানব্বই"
).split()
assert len(_UNDER_100) == 100

HUNDRED = "শত"
THOUSAND = "হাজার"
CRORE = "কোটি"
_ORDINALS = {1: "প্রথম", 2: "দ্বিতীয়", 3: "তৃতীয়", 4: "চতুর্থ", 5: "পঞ্চম", 6: "ষষ্ঠ", 7: "সপ্তম",
             8: "অষ্টম", 9: "নবম", 10: "দশম"}
_DAY_SPECIAL = {1: "পয়লা", 2: "দোসরা", 3: "তেসরা", 4: "চৌঠা"}
MAX_CARDINAL = 10**15  # larger numbers are read digit by digit


def cardinal(n: int, lakh: str = "লাখ") -> str:
    """``n`` (0 ≤ n) in words, Indian grouping: 12,34,567 → বারো লাখ চৌত্রিশ হাজার পাঁচশত সাতষট্টি."""
    if n < 0:
        raise ValueError("cardinal() takes n >= 0")
    if n < 100:
        return _UNDER_100[n]
    if n >= MAX_CARDINAL:
        return digits(str(n))
    parts: list[str] = []
    crore, n = divmod(n, 10**7)
    if crore:
        parts.append(f"{cardinal(crore, lakh)} {CRORE}")
    lakhs, n = divmod(n, 10**5)
    if lakhs:
        parts.append(f"{_UNDER_100[lakhs]} {lakh}")
    thousands, n = divmod(n, 1000)
    if thousands:
        parts.append(f"{_UNDER_100[thousands]} {THOUSAND}")
    hundreds, n = divmod(n, 100)
    if hundreds:
        parts.append(_UNDER_100[hundreds] + HUNDRED)
    if n:
        parts.append(_UNDER_100[n])
    return " ".join(parts)


def digits(s: str) -> str:
    """Each ASCII digit of ``s`` as a word (phone numbers, digits after a decimal point)."""
    return " ".join(_UNDER_100[int(c)] for c in s if c.isdigit())


def decimal(integer: str, fraction: str, lakh: str = "লাখ") -> str:
    """``integer.fraction`` as words: 3.14 → তিন দশমিক এক চার."""
    return f"{cardinal(int(integer), lakh)} দশমিক {digits(fraction)}"


def ordinal(n: int, lakh: str = "লাখ") -> str:
    """1 → প্রথম … 10 → দশম; beyond that the cardinal with তম (২১তম → একুশতম)."""
    return _ORDINALS.get(n) or cardinal(n, lakh) + "তম"


def year(n: int, lakh: str = "লাখ") -> str:
    """Years as they are read: 1952 → উনিশশো বাহান্ন, 1900 → উনিশশো, 2024 → দুই হাজার চব্বিশ."""
    if 1100 <= n <= 1999:
        hi, lo = divmod(n, 100)
        return f"{_UNDER_100[hi]}শো" + (f" {_UNDER_100[lo]}" if lo else "")
    return cardinal(n, lakh)


def day_of_month(n: int) -> str:
    """Day of the month as read before a month name: পয়লা, দোসরা, তেসরা, চৌঠা, পাঁচই … আঠারোই, উনিশে … একত্রিশে."""
    if not 1 <= n <= 31:
        raise ValueError(f"day of month must be 1..31, got {n}")
    if n in _DAY_SPECIAL:
        return _DAY_SPECIAL[n]
    return _UNDER_100[n] + ("ই" if n <= 18 else "ে")

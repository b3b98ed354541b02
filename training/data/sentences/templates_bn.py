"""Slot-filled Bangla sentence templates, written for this project.

Each template is (kind, pattern); slots are filled from the tables below with case forms given
explicitly (Bangla genitive and locative endings depend on the word, so they are not derived).
Numbers appear both in Bengali (০–৯) and ASCII digits so that the text front-end meets both.
"""

NAMES = [  # (nominative, genitive)
    ("রহিম", "রহিমের"), ("করিম", "করিমের"), ("সুমাইয়া", "সুমাইয়ার"), ("তানিয়া", "তানিয়ার"), ("রাকিব", "রাকিবের"),
    ("নাসরিন", "নাসরিনের"), ("অমিত", "অমিতের"), ("প্রিয়াঙ্কা", "প্রিয়াঙ্কার"), ("শফিক", "শফিকের"), ("মিতু", "মিতুর"),
    ("সাকিব", "সাকিবের"), ("ফাহিম", "ফাহিমের"), ("রুমানা", "রুমানার"), ("দীপা", "দীপার"), ("অনিক", "অনিকের"),
    ("তাসনিম", "তাসনিমের"), ("হাসান", "হাসানের"), ("পলাশ", "পলাশের"), ("শর্মিলা", "শর্মিলার"), ("জাহিদ", "জাহিদের"),
    ("মৌসুমী", "মৌসুমীর"), ("আরিফ", "আরিফের"), ("সঞ্জয়", "সঞ্জয়ের"), ("নীলা", "নীলার"), ("ইমরান", "ইমরানের"),
]
PLACES = [  # (nominative, locative)
    ("ঢাকা", "ঢাকায়"), ("চট্টগ্রাম", "চট্টগ্রামে"), ("সিলেট", "সিলেটে"), ("রাজশাহী", "রাজশাহীতে"), ("খুলনা", "খুলনায়"),
    ("বরিশাল", "বরিশালে"), ("রংপুর", "রংপুরে"), ("ময়মনসিংহ", "ময়মনসিংহে"), ("কুমিল্লা", "কুমিল্লায়"),
    ("কক্সবাজার", "কক্সবাজারে"), ("বগুড়া", "বগুড়ায়"), ("যশোর", "যশোরে"), ("গাজীপুর", "গাজীপুরে"), ("টাঙ্গাইল", "টাঙ্গাইলে"),
    ("কলকাতা", "কলকাতায়"), ("নারায়ণগঞ্জ", "নারায়ণগঞ্জে"), ("দিনাজপুর", "দিনাজপুরে"), ("পাবনা", "পাবনায়"),
]
ROOMS = ["বসার ঘরের", "শোবার ঘরের", "রান্নাঘরের", "বারান্দার", "পড়ার ঘরের", "বাথরুমের", "অফিস ঘরের"]
DEVICES = ["বাতি", "ফ্যান", "এসি", "টিভি", "হিটার", "গিজার", "আলো"]
ON_OFF = ["চালু করো", "বন্ধ করো", "জ্বালিয়ে দাও", "নিভিয়ে দাও"]
FOODS = ["ভাত", "মাছ", "ডাল", "রুটি", "খিচুড়ি", "বিরিয়ানি", "পায়েস", "সবজি", "মুরগির মাংস", "চিংড়ি"]
PARTS_OF_DAY = ["সকাল", "দুপুর", "বিকেল", "সন্ধ্যা", "রাত"]
MONTHS = ["জানুয়ারি", "ফেব্রুয়ারি", "মার্চ", "এপ্রিল", "মে", "জুন", "জুলাই", "আগস্ট", "সেপ্টেম্বর", "অক্টোবর", "নভেম্বর",
          "ডিসেম্বর", "বৈশাখ", "জ্যৈষ্ঠ", "আষাঢ়", "শ্রাবণ", "ভাদ্র", "আশ্বিন", "কার্তিক", "অগ্রহায়ণ", "পৌষ", "মাঘ", "ফাল্গুন", "চৈত্র"]
WEEKDAYS = ["শনিবার", "রবিবার", "সোমবার", "মঙ্গলবার", "বুধবার", "বৃহস্পতিবার", "শুক্রবার"]
ORDINALS = ["প্রথম", "দ্বিতীয়", "তৃতীয়", "চতুর্থ", "পঞ্চম", "ষষ্ঠ", "সপ্তম", "অষ্টম", "নবম", "দশম"]
RELATIONS = [  # (nominative, genitive)
    ("মা", "মায়ের"), ("বাবা", "বাবার"), ("ভাই", "ভাইয়ের"), ("বোন", "বোনের"), ("দাদা", "দাদার"), ("দাদি", "দাদির"),
    ("নানা", "নানার"), ("নানি", "নানির"), ("মামা", "মামার"), ("খালা", "খালার"), ("চাচা", "চাচার"), ("বন্ধু", "বন্ধুর"),
]

TEMPLATES = [
    ("statement", "{name} কাল {place} থেকে ফিরবে।"),
    ("statement", "আমার বন্ধু {name} এখন {place_loc} থাকে।"),
    ("statement", "{name_gen} বাড়ি {place_loc}।"),
    ("statement", "{place} এখান থেকে {num} কিলোমিটার দূরে।"),
    ("question", "{name} কি {place_loc} গেছে?"),
    ("question", "{place} যেতে কত সময় লাগবে?"),
    ("question", "{name_gen} ফোন নম্বরটা কি তোমার কাছে আছে?"),
    ("statement", "আমার ফোন নম্বর {phone}।"),
    ("command", "{phone} নম্বরে ফোন করো।"),
    ("command", "{relation}কে ফোন করো।"),
    ("command", "{room} {device} {on_off}।"),
    ("command", "{num_small} মিনিটের একটা টাইমার দাও।"),
    ("command", "আমাকে {part} {hour}টায় মনে করিয়ে দিও।"),
    ("command", "ঘরের তাপমাত্রা {temp} ডিগ্রি করো।"),
    ("command", "বাজার থেকে {num_small}টা ডিম আনো।"),
    ("statement", "এই জামাটার দাম {price} টাকা।"),
    ("statement", "আমি {price} টাকা দিয়ে একটা বই কিনেছি।"),
    ("question", "৳{price} দিয়ে কি এটা পাওয়া যাবে?"),
    ("statement", "বিলটা হয়েছে {price} টাকা {paisa} পয়সা।"),
    ("statement", "আজ তাপমাত্রা {temp} ডিগ্রি সেলসিয়াস।"),
    ("statement", "পরীক্ষায় আমি {percent}% নম্বর পেয়েছি।"),
    ("statement", "এ বছর দাম বেড়েছে প্রায় {percent} শতাংশ।"),
    ("statement", "আমার জন্মদিন {day} {month}।"),
    ("statement", "সভাটা হবে {day} {month} {year} সালে।"),
    ("statement", "আমি {year} সালে স্কুল পাশ করেছি।"),
    ("statement", "ট্রেন ছাড়বে {part} {hour}টা {minute} মিনিটে।"),
    ("statement", "আমাদের মিটিং {weekday} {part} {hour}টায়।"),
    ("question", "{weekday} কি অফিস খোলা থাকবে?"),
    ("statement", "আমি {ordinal} তলায় থাকি।"),
    ("statement", "{name} দৌড়ে {ordinal} হয়েছে।"),
    ("statement", "ডা. {name} আজ {part} রোগী দেখবেন।"),
    ("statement", "মো. {name} সভাপতি নির্বাচিত হয়েছেন।"),
    ("statement", "আজ দুপুরে {food} রান্না হয়েছে।"),
    ("question", "রাতে কি {food} খাবে?"),
    ("statement", "{relation} আজ {food} রান্না করেছেন।"),
    ("statement", "আমাদের গ্রামে {num} টি পরিবার থাকে।"),
    ("statement", "{name} {num_small} বছর ধরে {place_loc} কাজ করছে।"),
    ("statement", "আমি ভাবছিলাম, মানে, কাল যদি সময় পাই, তাহলে {place} যাব।"),
    ("statement", "{name}, তুমি কি জানো, আজ {place_loc} অনেক বৃষ্টি হয়েছে।"),
    ("statement", "আসলে, আমি বলতে চাইছিলাম যে {name_gen} সাথে কাল দেখা হবে।"),
    ("statement", "প্রথমে {food} খাব, তারপর একটু বিশ্রাম নেব।"),
    ("question", "{name}, তুমি কখন {place} থেকে এসেছ?"),
    ("statement", "বাসের ভাড়া এখন {price_small} টাকা।"),
    ("statement", "আমার ওজন {weight} কেজি।"),
    ("statement", "দোকানটা {part} {hour}টায় খোলে।"),
    ("statement", "{num_small} জন অতিথি আসবে।"),
    ("question", "{day} {month} কী বার?"),
    ("statement", "ছেলেটার বয়স {num_small} বছর।"),
    ("statement", "{name} আমার {relation_gen} বন্ধু।"),
    ("statement", "স্কোর এখন {score} রান।"),
]


def _digits(n: int, bengali: bool) -> str:
    s = str(n)
    return s.translate(str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯")) if bengali else s


def fill(pattern: str, rng) -> str:
    """Fill every slot of ``pattern`` from the tables with ``rng`` (a ``random.Random``)."""
    bn = rng.random() < 0.6  # most numbers in Bengali digits, the rest ASCII
    name = rng.choice(NAMES)
    place = rng.choice(PLACES)
    relation = rng.choice(RELATIONS)
    slots = {
        "name": name[0], "name_gen": name[1], "place": place[0], "place_loc": place[1],
        "relation": relation[0], "relation_gen": relation[1],
        "room": rng.choice(ROOMS), "device": rng.choice(DEVICES), "on_off": rng.choice(ON_OFF),
        "food": rng.choice(FOODS), "part": rng.choice(PARTS_OF_DAY), "month": rng.choice(MONTHS),
        "weekday": rng.choice(WEEKDAYS), "ordinal": rng.choice(ORDINALS),
        "num": _digits(rng.choice([rng.randint(2, 99), rng.randint(100, 999), rng.randint(1000, 99999)]), bn),
        "num_small": _digits(rng.randint(2, 30), bn),
        "price": _digits(rng.choice([rng.randint(10, 999), rng.randint(1000, 250000)]), bn),
        "price_small": _digits(rng.randint(10, 120), bn),
        "paisa": _digits(rng.choice([25, 50, 75]), bn),
        "temp": _digits(rng.randint(12, 42), bn), "percent": _digits(rng.randint(5, 100), bn),
        "day": _digits(rng.randint(1, 31), bn), "year": _digits(rng.randint(1952, 2030), bn),
        "hour": _digits(rng.randint(1, 12), bn), "minute": _digits(rng.choice([5, 10, 15, 20, 30, 40, 45, 50]), bn),
        "weight": _digits(rng.randint(35, 110), bn), "score": _digits(rng.randint(50, 400), bn),
        "phone": _digits(0, bn) + _digits(rng.randint(1_300_000_000, 1_999_999_999), bn),
    }
    return pattern.format(**slots)

"""Slot-filled English sentence templates, written for this project (numbers in digits on purpose)."""

NAMES = ["Alice", "Rahim", "Maya", "David", "Priya", "Tom", "Nadia", "Sam", "Lucy", "Omar", "Grace", "Arjun",
         "Emma", "Karim", "Sofia", "Ben", "Leila", "Jack", "Mina", "Noah"]
PLACES = ["London", "Dhaka", "Kolkata", "Paris", "Chittagong", "Sylhet", "Delhi", "Tokyo", "Berlin", "Toronto",
          "the airport", "the station", "the office", "the market", "the hospital"]
ROOMS = ["living room", "bedroom", "kitchen", "study", "bathroom", "hallway", "balcony"]
DEVICES = ["lights", "fan", "heater", "air conditioner", "television", "lamp", "radio"]
ON_OFF = ["turn on", "turn off", "switch on", "switch off"]
FOODS = ["rice", "fish", "lentils", "bread", "noodles", "soup", "salad", "chicken curry", "pancakes", "fruit"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
RELATIONS = ["mother", "father", "brother", "sister", "uncle", "aunt", "grandmother", "friend", "boss", "cousin"]

TEMPLATES = [
    ("statement", "{name} is coming back from {place} tomorrow."),
    ("question", "Has {name} already left for {place}?"),
    ("question", "How long does it take to get to {place}?"),
    ("command", "Please {on_off} the {room} {device}."),
    ("command", "Set a timer for {small} minutes."),
    ("command", "Remind me at {hour} o'clock to call my {relation}."),
    ("command", "Call my {relation}."),
    ("command", "Set the temperature to {temp} degrees."),
    ("statement", "This shirt costs {price} dollars."),
    ("statement", "The bill came to {price} taka."),
    ("statement", "It is {temp} degrees outside."),
    ("statement", "I scored {percent} percent in the exam."),
    ("statement", "My birthday is on {month} {day}."),
    ("statement", "The meeting is on {weekday} at {hour} in the {ampm}."),
    ("question", "Is the office open on {weekday}?"),
    ("statement", "We had {food} for lunch today."),
    ("question", "Shall we have {food} tonight?"),
    ("statement", "{name} has lived in {place} for {small} years."),
    ("statement", "My {relation} made {food} for everyone."),
    ("statement", "The train leaves at {hour}:{minute}."),
    ("statement", "Well, I was thinking, if I have time tomorrow, I might go to {place}."),
    ("question", "{name}, when did you get back from {place}?"),
    ("statement", "{small} guests are coming for dinner."),
    ("statement", "I finished school in {year}."),
    ("command", "Buy {small} eggs on the way home."),
]


def fill(pattern: str, rng) -> str:
    """Fill every slot of ``pattern`` with ``rng`` (a ``random.Random``)."""
    return pattern.format(
        name=rng.choice(NAMES), place=rng.choice(PLACES), room=rng.choice(ROOMS), device=rng.choice(DEVICES),
        on_off=rng.choice(ON_OFF), food=rng.choice(FOODS), weekday=rng.choice(WEEKDAYS), month=rng.choice(MONTHS),
        relation=rng.choice(RELATIONS), small=rng.randint(2, 30), hour=rng.randint(1, 12),
        minute=rng.choice(["05", "15", "20", "30", "45", "50"]), ampm=rng.choice(["morning", "afternoon", "evening"]),
        temp=rng.randint(12, 40), price=rng.choice([rng.randint(5, 99), rng.randint(100, 5000)]),
        percent=rng.randint(30, 100), day=rng.randint(1, 28), year=rng.randint(1980, 2025),
    )

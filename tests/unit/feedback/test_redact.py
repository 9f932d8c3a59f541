from __future__ import annotations

import pytest

from app.feedback.redact import Redactor, redact_texts


@pytest.mark.parametrize("phone", [
    "555-123-4567",
    "(555) 123-4567",
    "+1 (555) 123-4567",
    "555.123.4567",
    "+44 20 7946 0958",
    "020 7946 0958",
    "07700 900123",
    "+33 1 23 45 67 89",
    "0049 30 1234567",
    "+4915112345678",
    "5551234567",
])
def test_phone_numbers_in_many_formats_are_replaced(phone: str) -> None:
    [out] = redact_texts([f"Call me on {phone}, thanks."])
    assert out == "Call me on [PHONE_1], thanks."


@pytest.mark.parametrize("text", [
    "We stayed from 2024-05-01 to 2024-05-03.",
    "Arrived 12.05.2024 at 10:30, room 1204, paid $1,250.00 for 3 nights.",
    "Booking reference 1234567 and order 98765.",
    "We came in 2019 2020 2021 and loved it.",
    "Prices went up 25% to €129.",
])
def test_dates_prices_and_short_numbers_are_left_alone(text: str) -> None:
    assert redact_texts([text]) == [text]


@pytest.mark.parametrize("email", [
    "tom@example.com", "Tom.Baker+hotel@mail.example.co.uk", "a_b-c@sub.domain.io",
])
def test_email_addresses_are_replaced(email: str) -> None:
    [out] = redact_texts([f"Write to {email}."])
    assert out == "Write to [EMAIL_1]."


@pytest.mark.parametrize(("text", "expected"), [
    ("Hi, I'm Sarah and the room was cold.", "Hi, I'm [NAME_1] and the room was cold."),
    ("I am Tom Baker, a regular guest.", "I am [NAME_1], a regular guest."),
    ("My name is José Álvarez.", "My name is [NAME_1]."),
    ("my name's Anna-Lena, we stayed twice", "my name's [NAME_1], we stayed twice"),
    ("Great stay.\nThanks,\nMike", "Great stay.\nThanks,\n[NAME_1]"),
    ("Lovely food. Cheers, Dave!", "Lovely food. Cheers, [NAME_1]!"),
    ("Will come back.\n- Priya", "Will come back.\n- [NAME_1]"),
    ("Kind regards,\nMary O'Neil", "Kind regards,\n[NAME_1]"),
    ("Dear Sarah, thank you for your kind words.",
     "Dear [NAME_1], thank you for your kind words."),
])
def test_names_introduced_or_signed_are_replaced(text: str, expected: str) -> None:
    assert redact_texts([text]) == [expected]


@pytest.mark.parametrize("text", [
    "I'm sorry to say the room was dirty.",
    "I'm Not Happy with the service.",
    "Dear Guest, thank you.",
    "Thanks, The Grand Hotel Team",
    "Hi there, lovely place.",
])
def test_phrases_that_look_like_introductions_but_name_no_one_are_kept(text: str) -> None:
    assert redact_texts([text]) == [text]


def test_the_same_value_gets_the_same_placeholder_across_the_texts_of_a_row() -> None:
    prompt = ("Reviewer: Sarah Jones\nText: I'm Sarah. Call 555-123-4567 or mail "
              "sarah.j@example.com. My husband Tom loved it.\n- Sarah")
    chosen = "Dear Sarah, please call us or write to SARAH.J@example.com; Tom is welcome too."
    rejected = "Thanks Sarah Jones! We will call +1 555 123 4567."
    out = redact_texts([prompt, chosen, rejected], known_names=["Sarah Jones"])
    assert out == [
        "Reviewer: [NAME_1]\nText: I'm [NAME_1]. Call [PHONE_1] or mail [EMAIL_1]. "
        "My husband Tom loved it.\n- [NAME_1]",
        "Dear [NAME_1], please call us or write to [EMAIL_1]; Tom is welcome too.",
        "Thanks [NAME_1]! We will call [PHONE_1].",
    ]


def test_different_people_get_different_numbers_in_reading_order() -> None:
    out = redact_texts(
        ["I'm Anna. My friend's name is not needed.", "Dear Anna, say hi to Ben.",
         "Thanks,\nBen"],
        known_names=["Ben Carter"],
    )
    assert out == ["I'm [NAME_1]. My friend's name is not needed.",
                   "Dear [NAME_1], say hi to [NAME_2].", "Thanks,\n[NAME_2]"]


def test_the_business_name_and_its_sign_off_are_kept() -> None:
    texts = ["End with this sign-off: Maria, General Manager",
             "Thank you, Paul!\nBest regards,\nMaria"]
    out = redact_texts(texts, known_names=["Paul"], keep=["Maria, General Manager"])
    assert out == [texts[0], "Thank you, [NAME_1]!\nBest regards,\nMaria"]


def test_placeholders_are_not_redacted_again() -> None:
    r = Redactor(["Sarah"])
    once = r.redact("Sarah wrote to x@y.com")
    assert once == "[NAME_1] wrote to [EMAIL_1]"
    assert r.redact(once) == once
    assert r.found == {"NAME": 1, "EMAIL": 1}

"""Small review–response records for the alignment unit tests."""

from __future__ import annotations

import pytest

from app.alignment.records import Record
from app.core.types import BusinessProfile

STOCK = ("Dear Guest, Thank you for your valuable feedback. We are delighted that you enjoyed "
         "your stay with us. Our team works hard every day to make each guest feel at home, and "
         "reviews like yours keep us going. We look forward to welcoming you back soon for "
         "another memorable experience. Warm regards, Team")


def record(key: str, rating: int, text: str, reply: str, business: str = "Hotel Sunrise"
           ) -> Record:
    return Record(key=key, business=business, rating=rating, text=text, reply=reply,
                  profile=BusinessProfile(id=0, name=business, type="hotel"))


@pytest.fixture
def records() -> list[Record]:
    rs = [
        record("1", 1, "The room was dirty and the shower was broken. Staff were rude.",
               "Dear Ms Rao, thank you for telling us. We are sorry the room was not clean and "
               "that the shower was broken; we have asked housekeeping and maintenance to fix "
               "it, and spoken with the reception staff. We hope to welcome you back."),
        record("2", 5, "Lovely breakfast buffet and a great view of the lake from our room.",
               "Thank you for the lovely words! We are glad you enjoyed the breakfast buffet "
               "and the lake view from your room. We look forward to your next visit."),
        record("3", 2, "Wifi did not work and the food at the restaurant was cold.",
               "Thank you for your review. We apologise that the wifi did not work and that "
               "your food was served cold; our team is replacing the router and we have "
               "shared your comments with the chef. We hope to see you again."),
    ]
    rs += [record(f"s{i}", 5, f"Nice stay number {i}.", STOCK.replace("Guest", g))
           for i, g in enumerate(["Guest", "Guest", "Sir", "Madam"])]
    return rs

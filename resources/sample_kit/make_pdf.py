"""Writes refund_policy.pdf of the SAMPLE business kit (a fictional restaurant, Olive & Ember).

A minimal, dependency-free PDF writer: one Helvetica text page per ~50 lines, WinAnsi encoding,
no timestamps, so the output is byte-identical on every run.  Run it after editing the text:

    python resources/sample_kit/make_pdf.py
"""

from __future__ import annotations

import textwrap
from pathlib import Path

TITLE = "Refund and complaints policy — Olive & Ember (SAMPLE)"
BANNER = ("SAMPLE business kit: Olive & Ember is a fictional restaurant for trying ReplyDesk. "
          "Replace this file with your own policy.")
SECTIONS = [
    ("Problems with your meal",
     "If a dish is not as described, is undercooked, arrives cold or contains something it "
     "should not, please tell your server while you are still at the table. We will cook it "
     "again or take it off your bill, whichever you prefer. The manager on duty can decide this "
     "on the spot."),
    ("Refunds after your visit",
     "If you only noticed a problem after leaving, contact us within 7 days by e-mail or phone "
     "with your receipt or booking name. Approved refunds are paid to the original payment card "
     "within 5 working days. We do not give refunds in cash."),
    ("Takeaway and delivery orders",
     "Missing or wrong items in a takeaway or delivery order are refunded in full when you "
     "tell us the same evening, by phone, with your order number. Orders placed through a "
     "third-party delivery app must be refunded through that app."),
    ("Deposits and cancellations",
     "Bookings for 8 or more guests and private room hire need a deposit of $10 per guest. The "
     "deposit is refunded in full if you cancel at least 48 hours before the booking; later "
     "cancellations and no-shows lose the deposit."),
    ("Gift vouchers",
     "Gift vouchers cannot be exchanged for cash or refunded, but an unused voucher can be "
     "extended once by 3 months on request."),
    ("What we cannot refund",
     "We cannot refund dishes that were eaten in full without a complaint at the table, or "
     "differences of personal taste. Our prices include tax; the discretionary service charge "
     "is removed on request."),
    ("How we handle complaints",
     "Every complaint is read by the restaurant manager, who replies within 2 working days. If "
     "you are not happy with the answer, you can write to the owner at "
     "hello@oliveandember.example."),
]
OUT = Path(__file__).with_name("refund_policy.pdf")
PAGE_W, PAGE_H, MARGIN = 612, 792, 72


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252")
    out = bytearray(b"(")
    for byte in raw:
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif byte < 32 or byte > 126:
            out += f"\\{byte:03o}".encode()
        else:
            out.append(byte)
    return bytes(out + b")")


def _lines() -> list[tuple[str, float, str]]:
    """(font, size, text) per printed line; an empty text is a blank line."""
    lines: list[tuple[str, float, str]] = [("F2", 15, TITLE), ("F1", 10, "")]
    lines += [("F3", 10, line) for line in textwrap.wrap(BANNER, 95)]
    for heading, body in SECTIONS:
        lines += [("F1", 10, ""), ("F2", 12, heading)]
        lines += [("F1", 10.5, line) for line in textwrap.wrap(body, 88)]
    return lines


def _pages(lines: list[tuple[str, float, str]], per_page: int = 48) -> list[bytes]:
    pages = []
    for start in range(0, len(lines), per_page):
        ops = [b"BT", f"{MARGIN} {PAGE_H - MARGIN} Td".encode()]
        for font, size, text in lines[start:start + per_page]:
            ops.append(f"/{font} {size:g} Tf {size * 1.45:.1f} TL T*".encode())
            if text:
                ops.append(_pdf_string(text) + b" Tj")
        ops.append(b"ET")
        pages.append(b"\n".join(ops))
    return pages


def build() -> bytes:
    contents = _pages(_lines())
    n = len(contents)
    # objects: 1 catalog, 2 pages, 3-5 fonts, then (page, content) pairs
    first_page = 6
    kids = " ".join(f"{first_page + 2 * i} 0 R" for i in range(n))
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode(),
    ]
    for base in ("Helvetica", "Helvetica-Bold", "Helvetica-Oblique"):
        objects.append(f"<< /Type /Font /Subtype /Type1 /BaseFont /{base} "
                       "/Encoding /WinAnsiEncoding >>".encode())
    for i, content in enumerate(contents):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
            f"/Resources << /Font << /F1 3 0 R /F2 4 0 R /F3 5 0 R >> >> "
            f"/Contents {first_page + 2 * i + 1} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content
                       + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)


if __name__ == "__main__":
    OUT.write_bytes(build())
    print(f"wrote {OUT}")

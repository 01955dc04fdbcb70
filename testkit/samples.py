"""Realistic field sets for the tests (fictitious people)."""

from __future__ import annotations

import hashlib

PHOTO = hashlib.sha256(b"fictitious portrait").hexdigest()


def citizen_id(body17: str) -> str:
    """Append the GB 11643 (ISO 7064 MOD 11-2) check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(c) * w for c, w in zip(body17, weights)) % 11]


def driving_licence(**overrides) -> dict:
    fields = {
        "name": "王小明", "sex": "男", "nationality": "中国", "address": "浙江省杭州市西湖区文三路100号",
        "birth_date": "1990-03-07", "id_number": citizen_id("33010619900307123"),
        "first_issue_date": "2012-05-20", "licence_class": "C1", "valid_from": "2018-05-20",
        "valid_until": "2028-05-20", "issuing_authority": "浙江省杭州市公安局交通警察支队",
        "file_number": "330100123456", "points": 0, "photo": PHOTO,
    }
    fields.update(overrides)
    return fields

"""Realistic field sets for the tests (fictitious people)."""

from __future__ import annotations

import hashlib

PHOTO_BYTES = b"fictitious portrait"
"""The placeholder "photo" the licence fields name (:data:`PHOTO`: its SHA-256); not a picture."""
PHOTO = hashlib.sha256(PHOTO_BYTES).hexdigest()
SAMPLE_PHOTO_BYTES = b"sample photo"
"""The placeholder "photo" the :data:`SAMPLES` name (:data:`SAMPLE_PHOTO`: its SHA-256, which the
conformance vectors fix); not a picture."""
SAMPLE_PHOTO = hashlib.sha256(SAMPLE_PHOTO_BYTES).hexdigest()


def citizen_id(body17: str) -> str:
    """Append the GB 11643 (ISO 7064 MOD 11-2) check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(c) * w for c, w in zip(body17, weights)) % 11]


def driving_licence(**overrides) -> dict:
    """A consistent licence (its id_number carries its birth_date and sex), valid 2018-05-20 to
    2028-05-20."""
    fields = {
        "name": "王小明", "sex": "男", "nationality": "中国", "address": "浙江省杭州市西湖区文三路100号",
        "birth_date": "1990-03-07", "id_number": citizen_id("33010619900307123"),
        "first_issue_date": "2012-05-20", "licence_class": "C1", "valid_from": "2018-05-20",
        "valid_until": "2028-05-20", "issuing_authority": "浙江省杭州市公安局交通警察支队",
        "file_number": "330100123456", "points": 0, "photo": PHOTO,
    }
    fields.update(overrides)
    return fields


# One realistic (fictitious) document per type, with every field the type defines: consistent
# (the birth date and sex inside each citizen identity number match the fields) and valid from
# 2026 to at least 2030 (China time), so a test may issue any of them with the real clock.
SAMPLES = {
    "cn.resident_id": {
        "name": "张三", "sex": "男", "ethnicity": "汉", "birth_date": "1990-03-07",
        "address": "上海市徐汇区漕溪北路100号", "id_number": "31010419900307123X",
        "issuing_authority": "上海市公安局徐汇分局", "valid_from": "2015-06-01",
        "valid_until": "2035-06-01", "photo": SAMPLE_PHOTO,
    },
    "cn.driving_licence": {
        "name": "张三", "sex": "男", "nationality": "中国", "address": "上海市徐汇区漕溪北路100号",
        "birth_date": "1990-03-07", "id_number": "31010419900307123X", "first_issue_date": "2010-05-20",
        "licence_class": "C1", "valid_from": "2026-05-20", "valid_until": "2036-05-20",
        "issuing_authority": "上海市公安局交通警察总队", "file_number": "310012345678", "points": 3,
        "licence_status": "正常", "photo": SAMPLE_PHOTO,
    },
    "cn.vehicle_licence": {
        "plate_number": "沪A8K123", "vehicle_type": "小型轿车", "owner": "张三",
        "address": "上海市徐汇区漕溪北路100号", "use_character": "非营运", "model": "上汽大众牌SVW7141",
        "vin": "LSVAM4188C2000001", "engine_number": "CSS123456", "register_date": "2021-08-16",
        "issue_date": "2021-08-16", "issuing_authority": "上海市公安局交通警察总队",
        "file_number": "310098765432", "approved_passengers": 5, "gross_mass_kg": 1850,
        "curb_mass_kg": 1400, "approved_load_kg": 0, "inspection_valid_until": "2031-08-31",
        "vehicle_status": "正常",
    },
    "cn.road_transport_certificate": {
        "certificate_number": "310115012345", "operator_name": "上海示例物流有限公司",
        "operator_licence_number": "沪交运管许可浦字310115001234号", "address": "上海市浦东新区示例路1号",
        "plate_number": "沪B12345D", "vehicle_type": "重型厢式货车", "business_scope": "道路普通货物运输",
        "approved_load_kg": 18000, "seats": 2, "issue_date": "2025-03-01", "valid_from": "2025-03-01",
        "valid_until": "2031-02-28", "issuing_authority": "上海市道路运输管理局",
    },
    "cn.transport_qualification": {
        "name": "李四", "sex": "男", "nationality": "中国", "birth_date": "1985-11-07",
        "address": "云南省昆明市五华区示例路8号", "id_number": "53010219851107051X",
        "certificate_number": "53010219851107051X", "driving_class": "A2D",
        "qualification_classes": "经营性道路货物运输驾驶员、道路危险货物运输驾驶员",
        "first_issue_date": "2012-04-01", "valid_from": "2024-04-01", "valid_until": "2030-04-01",
        "issuing_authority": "昆明市交通运输局", "photo": SAMPLE_PHOTO,
    },
    "cn.business_licence": {
        "uscc": "91310115MA1K3Y5B21", "name": "上海示例科技有限公司",
        "entity_type": "有限责任公司（自然人投资或控股）", "legal_representative": "王五",
        "registered_capital": "人民币100.0000万元整", "established_date": "2018-01-15",
        "business_term_from": "2018-01-15", "business_term_until": "长期",
        "address": "中国（上海）自由贸易试验区示例路88号", "business_scope": "从事计算机科技领域内的技术开发、技术咨询。",
        "registration_authority": "上海市浦东新区市场监督管理局", "registration_date": "2023-06-30",
    },
    "cn.social_security_card": {
        "name": "赵六", "sex": "女", "id_number": "110101200002290026", "card_number": "A12345678",
        "issuing_region": "110000", "issue_date": "2020-09-01", "valid_until": "2030-09-01",
        "bank": "中国工商银行", "photo": SAMPLE_PHOTO,
    },
    "cn.residence_permit": {
        "name": "李四", "sex": "男", "ethnicity": "彝", "birth_date": "1985-11-07",
        "id_number": "53010219851107051X", "address": "浙江省杭州市西湖区示例路9号",
        "registered_address": "云南省昆明市五华区示例路8号", "issuing_authority": "杭州市公安局西湖分局",
        "valid_from": "2025-03-01", "valid_until": "2030-03-01", "photo": SAMPLE_PHOTO,
    },
}

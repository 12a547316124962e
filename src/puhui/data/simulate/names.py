"""Fictitious names, addresses, phones, devices and IP addresses, made in bulk.

Everything here is valid in form and obviously synthetic in content: phones come from one
block (199 0000 0000 – 199 9999 9999) handed out without repeats, IP addresses from the
RFC 2544 benchmarking range 198.18.0.0/15 (never routed on the internet), device fingerprints
are random hex, and names combine common surnames with common given-name characters.
"""

from __future__ import annotations

import numpy as np

# Common surnames, Zhejiang-heavy first (陈, 王, 张, 李, 吴, 周, 徐, 林, 金, 朱 …).
SURNAMES = np.array(
    list(
        "陈王张李吴周徐林金朱杨黄赵刘胡郑何叶潘沈应方楼蒋俞许钱孙马高罗梁宋谢韩唐冯董邓曹袁"
        "彭蔡余杜程苏魏丁姚卢姜汪范石傅戴夏章郭"
    )
)
_SURNAME_WEIGHTS = np.linspace(3.0, 0.5, len(SURNAMES))
GIVEN_CHARS = np.array(
    list(
        "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文辉力斌波宇浩凯健俊帆鹏飞"
        "晨琳雪梅佳慧欣怡婷颖峰海军亮成林春燕晓东立新永丹萍旭阳"
    )
)
TRADE_CHARS = np.array(
    list(
        "鑫达华兴盛恒通泰丰源宏远瑞昌隆祥博创嘉禾汇金银星宇锦程东方中天立信安康永利新诚德"
        "凯越力奥美尚优品联合众科翔迈峰正帆航亚欧环球锐"
    )
)
STREETS = np.array(
    [
        "人民",
        "解放",
        "建设",
        "中山",
        "环城",
        "工业",
        "科技",
        "创业",
        "兴业",
        "滨江",
        "文化",
        "新华",
        "振兴",
        "开发",
        "经济",
        "长江",
        "东海",
        "西湖",
        "望江",
        "府前",
        "城东",
        "城西",
        "江南",
        "湖滨",
        "青年",
        "胜利",
        "商贸",
        "物流",
        "金融",
        "学院",
        "园区",
        "丰收",
        "世纪",
        "迎宾",
        "前进",
        "光明",
    ]
)
# Short trade words per GB/T 4754 division, for enterprise names.
INDUSTRY_WORDS: dict[str, str] = {
    "A01": "农业开发",
    "C13": "食品",
    "C17": "纺织",
    "C18": "服饰",
    "C19": "鞋业",
    "C24": "工艺品",
    "C26": "化工",
    "C29": "塑料制品",
    "C33": "金属制品",
    "C34": "机械",
    "C35": "设备",
    "C36": "汽车零部件",
    "C38": "电器",
    "C39": "电子",
    "C40": "仪器仪表",
    "C41": "实业",
    "E47": "建设",
    "E48": "建筑工程",
    "F51": "贸易",
    "F52": "商贸",
    "G54": "运输",
    "G58": "货运代理",
    "H61": "酒店管理",
    "H62": "餐饮管理",
    "I64": "网络科技",
    "I65": "信息技术",
    "L72": "企业管理咨询",
    "M75": "科技",
    "O80": "家政服务",
}
OUT_OF_PROVINCE_DIVISIONS = np.array(["340102", "360102", "410102", "420102", "430102", "510104"])

PHONE_BASE = 19_900_000_000
PHONE_SPACE = 100_000_000
IP_SPACE = 2**17  # 198.18.0.0/15


def compact(values: np.ndarray) -> np.ndarray:
    """Shrink a string array to its longest value (concatenation widens dtypes needlessly)."""
    if values.dtype.kind != "U" or not len(values):
        return values
    return values.astype(f"<U{max(int(np.char.str_len(values).max()), 1)}")


def pick(
    rng: np.random.Generator, options: np.ndarray, size: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """``size`` draws from ``options`` (weights need not be normalised)."""
    p = None if weights is None else np.asarray(weights, dtype=float) / np.sum(weights)
    return options[rng.choice(len(options), size=size, p=p)]


def person_names(rng: np.random.Generator, size: int) -> np.ndarray:
    """Surname plus one or two given-name characters (two in most cases, as in real life)."""
    surnames = pick(rng, SURNAMES, size, _SURNAME_WEIGHTS)
    first = pick(rng, GIVEN_CHARS, size)
    second = pick(rng, GIVEN_CHARS, size)
    two = rng.random(size) < 0.75
    given = np.where(two, np.char.add(first, second), first)
    return compact(np.char.add(surnames, given))


def trade_names(rng: np.random.Generator, size: int) -> np.ndarray:
    """Two-character 字号 such as 鑫达 or 恒通."""
    return np.char.add(pick(rng, TRADE_CHARS, size), pick(rng, TRADE_CHARS, size))


def enterprise_names(
    rng: np.random.Generator, city_names: np.ndarray, industry_codes: np.ndarray
) -> np.ndarray:
    """ "<city><字号><trade word>有限公司", e.g. 宁波恒通机械有限公司."""
    words = np.array([INDUSTRY_WORDS.get(code, "实业") for code in industry_codes])
    short_city = np.char.replace(city_names, "市", "")
    name = np.char.add(np.char.add(short_city, trade_names(rng, len(words))), words)
    return compact(np.char.add(name, "有限公司"))


def addresses(
    rng: np.random.Generator, city_names: np.ndarray, county_names: np.ndarray
) -> np.ndarray:
    """ "<city><county><street>路<n>号" with a room number for a share of firms."""
    size = len(city_names)
    street = np.char.add(pick(rng, STREETS, size), "路")
    number = np.char.add(rng.integers(1, 999, size).astype(str), "号")
    room = np.char.add(
        np.char.add(rng.integers(1, 20, size).astype(str), "幢"),
        np.char.add(rng.integers(101, 1899, size).astype(str), "室"),
    )
    with_room = rng.random(size) < 0.55
    base = np.char.add(np.char.add(city_names, county_names), np.char.add(street, number))
    return compact(np.where(with_room, np.char.add(base, room), base))


def unique_offsets(rng: np.random.Generator, count: int, space: int) -> np.ndarray:
    """``count`` distinct pseudo-random integers in [0, space), by an affine permutation."""
    if count > space:
        raise ValueError(f"cannot draw {count} distinct values from {space}")
    while True:
        multiplier = int(rng.integers(space // 3, space - 1))
        if np.gcd(multiplier, space) == 1:
            break
    shift = int(rng.integers(0, space))
    k = np.arange(count, dtype=np.int64)
    return (k * multiplier + shift) % space


def phones(offsets: np.ndarray) -> np.ndarray:
    """Mobile numbers from the fictitious 199 block."""
    return (PHONE_BASE + np.asarray(offsets, dtype=np.int64)).astype("<U11")


def device_ids(rng: np.random.Generator, size: int) -> np.ndarray:
    """Device fingerprints: ``DV`` and 16 hex digits."""
    nibbles = rng.integers(0, 16, size=(size, 16))
    hex_digits = np.array(list("0123456789ABCDEF"))[nibbles]
    return np.char.add("DV", np.ascontiguousarray(hex_digits).view("<U16").ravel())


def ip_addresses(offsets: np.ndarray) -> np.ndarray:
    """Dotted quads in 198.18.0.0/15 from offsets in [0, 2**17)."""
    offsets = np.asarray(offsets, dtype=np.int64) % IP_SPACE
    third = 18 + offsets // 65_536
    rest = offsets % 65_536
    parts = [
        np.full(len(offsets), "198."),
        third.astype(str),
        np.full(len(offsets), "."),
        (rest // 256).astype(str),
        np.full(len(offsets), "."),
        (rest % 256).astype(str),
    ]
    result = parts[0]
    for part in parts[1:]:
        result = np.char.add(result, part)
    return compact(result)


def city_ip_offsets(rng: np.random.Generator, city_index: np.ndarray, cities: int) -> np.ndarray:
    """IP offsets clustered by city (each city owns a contiguous slice of the range)."""
    block = IP_SPACE // max(cities, 1)
    return np.asarray(city_index, dtype=np.int64) * block + rng.integers(0, block, len(city_index))


class PhoneBook:
    """Hands out phone numbers from the fictitious block, never the same one twice."""

    def __init__(self, rng: np.random.Generator, capacity: int) -> None:
        self._offsets = unique_offsets(rng, min(capacity, PHONE_SPACE), PHONE_SPACE)
        self._next = 0

    def take(self, count: int) -> np.ndarray:
        if self._next + count > len(self._offsets):
            raise ValueError("phone book exhausted; raise its capacity")
        offsets = self._offsets[self._next : self._next + count]
        self._next += count
        return phones(offsets)

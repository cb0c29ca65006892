"""The demo's people and places: stores, promoters' names and phones, viewers' profiles.

Pure Python over a `random.Random`, so one seed always gives the same cast.
"""
from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from itertools import accumulate

BRAND = "山茶集"

# (name, region): a skincare chain's counters in the provinces where it sells best.
STORES = [
    ("杭州湖滨银泰店", "浙江"), ("杭州西溪印象城店", "浙江"), ("宁波天一广场店", "浙江"),
    ("温州万象城店", "浙江"),
    ("上海南京西路店", "上海"), ("上海徐家汇港汇店", "上海"), ("上海五角场合生汇店", "上海"),
    ("南京新街口德基店", "江苏"), ("苏州观前街店", "江苏"), ("无锡恒隆广场店", "江苏"),
    ("广州天河城店", "广东"), ("广州正佳广场店", "广东"), ("深圳万象天地店", "广东"),
    ("深圳海岸城店", "广东"), ("佛山岭南站店", "广东"),
    ("北京三里屯太古里店", "北京"), ("北京西单大悦城店", "北京"), ("北京国贸商城店", "北京"),
    ("成都太古里店", "四川"), ("成都国金中心店", "四川"),
]

ACCOUNTS = [f"{BRAND}官方旗舰", f"{BRAND}护肤研究所", f"{BRAND}门店福利社"]

# Roughly by frequency, so 王 and 李 come up far more often than 龚 or 覃.
SURNAMES = (
    "王" * 14 + "李" * 14 + "张" * 13 + "刘" * 11 + "陈" * 10 + "杨" * 6 + "黄" * 5 + "赵" * 5
    + "吴" * 4 + "周" * 4 + "徐" * 3 + "孙" * 3 + "马" * 3 + "朱" * 3 + "胡" * 3 + "郭" * 2
    + "何" * 2 + "高" * 2 + "林" * 2 + "罗" * 2 + "郑" * 2 + "梁" * 2
    + "谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦"
    "付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
FEMALE_GIVEN = "婷静丽敏燕娟霞芳洁琳雪欣怡佳悦晶倩颖慧璐萍玲丹雯蕾薇瑶梦思雨诗晓嘉梓可馨月春秀美艳红小亚"
MALE_GIVEN = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯俊帅博文志建国峰晨"
PHONE_PREFIXES = [str(p) for p in (*range(130, 140), 150, 151, 152, 155, 156, 157, 158, 159,
                                   166, 170, 176, 177, 178, *range(180, 190), 191, 198, 199)]
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # as liveloop.promoters.models.new_code

# Where viewers live when they did not come through a store's promoter.
REGIONS = ["广东", "浙江", "江苏", "上海", "北京", "四川", "山东", "河南", "湖北", "湖南", "福建",
           "安徽", "河北", "陕西", "重庆", "天津", "辽宁", "云南", "江西", "广西"]
REGION_WEIGHTS = [14, 12, 11, 9, 7, 6, 6, 5, 4, 4, 4, 3, 3, 3, 3, 2, 2, 1, 1, 1]
CITY_TIERS = [1, 2, 3, 4, 5]
CITY_TIER_WEIGHTS = [22, 30, 22, 16, 10]
AGE_BANDS = ["18-24", "25-30", "31-40", "41-50", "50+"]
AGE_BAND_WEIGHTS = [16, 31, 32, 14, 7]
FEMALE_SHARE = 0.76
# Cumulative weights, computed once: profiles are drawn for every one of ~200,000 viewers.
_REGION_CUM = list(accumulate(REGION_WEIGHTS))
_CITY_TIER_CUM = list(accumulate(CITY_TIER_WEIGHTS))
_AGE_BAND_CUM = list(accumulate(AGE_BAND_WEIGHTS))


@dataclass(frozen=True)
class Person:
    """A promoter as the brand knows them: store staff or a loyal customer of a store."""
    name: str
    phone: str
    code: str
    store: str
    region: str


class Cast:
    """Hands out unique names, phones, codes and viewer ids from one random stream."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._phones: set[str] = set()
        self._codes: set[str] = set()
        self._openids: set[str] = set()

    def name(self) -> str:
        rng = self.rng
        # Store guides and community owners of a skincare brand are mostly women.
        given = FEMALE_GIVEN if rng.random() < 0.8 else MALE_GIVEN
        length = 1 if rng.random() < 0.3 else 2
        return rng.choice(SURNAMES) + "".join(rng.choice(given) for _ in range(length))

    def phone(self) -> str:
        while True:
            phone = self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if phone not in self._phones:
                self._phones.add(phone)
                return phone

    def code(self) -> str:
        while True:
            code = "P" + "".join(self.rng.choices(CODE_ALPHABET, k=6))
            if code not in self._codes:
                self._codes.add(code)
                return code

    def person(self, store: tuple[str, str]) -> Person:
        return Person(self.name(), self.phone(), self.code(), store[0], store[1])

    def people(self, count: int) -> list[Person]:
        # Bigger counters field more promoters.
        sizes = [self.rng.uniform(0.5, 1.6) for _ in STORES]
        stores = self.rng.choices(STORES, weights=sizes, k=count)
        return [self.person(store) for store in stores]

    def openid(self) -> str:
        """A WeChat-openid-like pseudonymous viewer id (28 characters, starting with o)."""
        while True:
            raw = base64.urlsafe_b64encode(self.rng.getrandbits(168).to_bytes(21, "big"))
            openid = "o" + raw[:27].decode()
            if openid not in self._openids:
                self._openids.add(openid)
                return openid

    def profile(self, home_region: str | None) -> dict:
        """The attrs a platform reports for a viewer; a store's promoters mostly reach locals."""
        rng = self.rng
        if home_region is not None and rng.random() < 0.65:
            region = home_region
        else:
            region = rng.choices(REGIONS, cum_weights=_REGION_CUM)[0]
        return {
            "gender": "f" if rng.random() < FEMALE_SHARE else "m",
            "city_tier": rng.choices(CITY_TIERS, cum_weights=_CITY_TIER_CUM)[0],
            "region": region,
            "age_band": rng.choices(AGE_BANDS, cum_weights=_AGE_BAND_CUM)[0],
        }


def zipf_pull(scores: list[float], silent: float, exponent: float = 0.9) -> list[float]:
    """Each promoter's share of the traffic: a few bring most, some bring nothing.

    The highest score gets rank 1; rank r gets 1/(r+1)^exponent, so with 1,000 promoters the
    top tenth brings about 60% of the traffic. The lowest-scored `silent` share joined the
    programme and never shared their link.
    """
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    active = len(scores) - round(len(scores) * silent)
    pull = [0.0] * len(scores)
    for rank, index in enumerate(order[:active], start=1):
        pull[index] = 1.0 / (rank + 1) ** exponent
    return pull

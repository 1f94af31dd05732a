"""The labelled conversations for bench/compliance.py, built at run time from ../shared/data.

General talk: sentences of the Wikipedia passages in corpora/ (Korean, simplified and traditional
Chinese, Japanese, English). Trade talk: chat lines written from templates whose slots are filled
from trade/ (HS subheadings for the goods, country and currency names in the line's language, ISO
currency codes, capitals as places), plus short replies ("ok", "네 확인해볼게요") that belong to
neither. Everything is split in two halves that share nothing: `dev` (passages, HS rows, countries,
currencies and templates with an even hash or index) was the only half looked at while choosing the
rule's defaults; `test` is what the benchmark reports.

Conversations, labelled by whether they drift:
- trade (no drift): trade lines and short replies, with an occasional general sentence and, in some,
  one short digression of two or three general sentences;
- drifting: a trade opening, then 10-20 general sentences (short replies mixed in), sometimes back;
- general: general sentences and short replies only.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

CORPORA = {
    "ko": "korquad-v1.0",
    "zh-Hans": "cmrc2018",
    "zh-Hant": "drcd",
    "ja": "jsquad-v1.3",
    "en": "squad-v1.1",
}
NAME_COLUMN = {"ko": "ko", "zh-Hans": "zh_Hans", "zh-Hant": "zh_Hant", "ja": "ja", "en": "en"}
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")

# Trade lines. Slots: goods (an HS subheading's goods, in English as traders write them), qty, unit,
# price, cur (ISO code), curname, country, place, inco, hs, day.
TEMPLATES: dict[str, list[str]] = {
    "en": [
        "Can you offer {qty} {unit} of {goods}? Delivery {inco} {place}.",
        "Our best price for {goods} is {cur} {price} per {unit}, valid until {day}.",
        "The buyer in {country} wants {qty} {unit}, payment by L/C at sight.",
        "Shipment of the {goods} is delayed, the vessel now leaves on {day}.",
        "Please send the proforma invoice and packing list for the {goods} order.",
        "Customs in {country} asked for the certificate of origin, HS {hs}.",
        "We can accept {cur} {price}/{unit} {inco} if you confirm {qty} {unit} today.",
        "Freight to {place} went up, please recheck the {inco} price.",
        "The supplier needs a 30% deposit before loading the {goods}.",
        "Inspection report on the {goods} lot is fine, we can release payment.",
        "Is the {curname} rate still ok for the contract or should we quote in USD?",
        "Two containers of {goods} arrived at {place}, clearing customs tomorrow.",
        "They want samples of the {goods} before they place the order.",
        "Duty on HS {hs} into {country} is 8%, include it in the landed cost.",
    ],
    "ko": [
        "{goods} {qty}{unit} 오퍼 가능하신가요? {inco} {place} 조건입니다.",
        "{goods} 단가는 {unit}당 {price} {cur}입니다. {day}까지 유효합니다.",
        "{country} 바이어가 {qty}{unit} 주문하겠답니다. 결제는 신용장으로요.",
        "{goods} 선적이 늦어져서 배가 {day}에 출항합니다.",
        "{goods} 주문 건 인보이스랑 패킹리스트 보내주세요.",
        "{country} 세관에서 원산지증명서를 요청했어요. HS {hs}입니다.",
        "오늘 {qty}{unit} 확정해 주시면 {price} {cur} {inco}로 맞춰드릴게요.",
        "{place}까지 운임이 올라서 {inco} 가격을 다시 계산해야 합니다.",
        "공급업체가 {goods} 적재 전에 계약금 30%를 요구합니다.",
        "{goods} 검수 결과 문제없습니다. 잔금 송금하겠습니다.",
        "계약은 {curname}로 할까요, 아니면 달러로 견적 낼까요?",
        "{goods} 컨테이너 두 대가 {place}에 도착했고 내일 통관합니다.",
        "발주 전에 {goods} 샘플을 먼저 받아보고 싶답니다.",
        "HS {hs} 품목은 {country} 관세가 8%라서 원가에 넣어야 해요.",
    ],
    "zh-Hans": [
        "{goods}能报{qty}{unit}吗？{inco}{place}交货。",
        "{goods}最低价每{unit}{price}{cur}，报价有效期到{day}。",
        "{country}的买家要{qty}{unit}，即期信用证付款。",
        "{goods}的装运推迟了，船{day}才开。",
        "请把{goods}订单的形式发票和装箱单发过来。",
        "{country}海关要原产地证，HS编码{hs}。",
        "今天确认{qty}{unit}的话，{inco}价格可以做到{price}{cur}。",
        "到{place}的运费涨了，{inco}价格要重新算。",
        "供应商要求装货前先付30%定金。",
        "{goods}验货没问题，可以安排付款了。",
        "合同用{curname}结算还是用美元报价？",
        "两个集装箱的{goods}已经到{place}，明天清关。",
        "客户下单之前想先看{goods}的样品。",
        "HS {hs}进{country}的关税是8%，要算进成本。",
    ],
    "zh-Hant": [
        "{goods}能報{qty}{unit}嗎？{inco}{place}交貨。",
        "{goods}最低價每{unit}{price}{cur}，報價有效期到{day}。",
        "{country}的買家要{qty}{unit}，即期信用狀付款。",
        "{goods}的裝運延後了，船{day}才開。",
        "請把{goods}訂單的形式發票和裝箱單寄過來。",
        "{country}海關要原產地證明，HS編碼{hs}。",
        "今天確認{qty}{unit}的話，{inco}價格可以做到{price}{cur}。",
        "到{place}的運費漲了，{inco}價格要重新計算。",
        "供應商要求裝貨前先付30%訂金。",
        "{goods}驗貨沒問題，可以安排付款了。",
        "合約用{curname}結算還是用美元報價？",
        "兩個貨櫃的{goods}已經到{place}，明天清關。",
        "客戶下單之前想先看{goods}的樣品。",
        "HS {hs}進{country}的關稅是8%，要算進成本。",
    ],
    "ja": [
        "{goods}を{qty}{unit}オファーできますか？{inco}{place}渡しです。",
        "{goods}の単価は{unit}あたり{price}{cur}、{day}まで有効です。",
        "{country}のバイヤーが{qty}{unit}注文したいそうです。支払いは信用状です。",
        "{goods}の船積みが遅れて、本船は{day}出港になります。",
        "{goods}の注文のインボイスとパッキングリストを送ってください。",
        "{country}の税関から原産地証明書を求められました。HS {hs}です。",
        "今日{qty}{unit}確定なら{inco}で{price}{cur}にします。",
        "{place}までの運賃が上がったので、{inco}価格を再計算します。",
        "仕入先は{goods}の積み込み前に30%の前払いを求めています。",
        "{goods}の検品は問題ありません。残金を送金します。",
        "契約は{curname}建てにしますか、それともドルで見積もりますか？",
        "{goods}のコンテナ2本が{place}に着きました。明日通関します。",
        "発注の前に{goods}のサンプルを見たいそうです。",
        "HS {hs}の{country}向け関税は8%なので原価に入れてください。",
    ],
}
UNITS = {
    "en": ["t", "MT", "tonnes", "kg", "containers", "pcs"],
    "ko": ["톤", "kg", "개", "컨테이너"],
    "zh-Hans": ["吨", "公斤", "件", "柜"],
    "zh-Hant": ["噸", "公斤", "件", "櫃"],
    "ja": ["トン", "キロ", "個", "本"],
}
REPLIES: dict[str, list[str]] = {
    "en": [
        "ok",
        "Thanks!",
        "Sure, let me check.",
        "Will revert tomorrow.",
        "Noted, thanks",
        "Call me when free",
        "Good morning",
        "Sounds good",
        "I'm in a meeting, later",
        "Got it",
        "Yes",
        "Perfect, thank you",
    ],
    "ko": [
        "네",
        "감사합니다!",
        "잠시만요, 확인해볼게요.",
        "내일 다시 연락드릴게요.",
        "알겠습니다",
        "통화 가능하세요?",
        "좋은 아침입니다",
        "좋네요",
        "회의 중이라 이따 연락드릴게요",
        "넵",
        "그렇게 하시죠",
        "고맙습니다",
    ],
    "zh-Hans": [
        "好的",
        "谢谢！",
        "稍等，我查一下。",
        "明天回复您。",
        "收到",
        "方便通话吗？",
        "早上好",
        "可以",
        "在开会，晚点说",
        "明白了",
        "对",
        "太好了，谢谢",
    ],
    "zh-Hant": [
        "好的",
        "謝謝！",
        "稍等，我查一下。",
        "明天回覆您。",
        "收到",
        "方便通話嗎？",
        "早安",
        "可以",
        "在開會，晚點說",
        "明白了",
        "對",
        "太好了，謝謝",
    ],
    "ja": [
        "了解です",
        "ありがとうございます！",
        "少々お待ちください、確認します。",
        "明日また連絡します。",
        "承知しました",
        "お電話できますか？",
        "おはようございます",
        "いいですね",
        "会議中なので後ほど",
        "はい",
        "そうしましょう",
        "助かります",
    ],
}
INCOTERMS = ["FOB", "CIF", "CFR", "EXW", "DAP", "DDP", "FCA"]


def half(key: str) -> str:
    """'dev' or 'test', fixed by the key's hash."""
    return "dev" if hashlib.sha1(key.encode(), usedforsecurity=False).digest()[0] % 2 == 0 else "test"


@dataclass
class Pools:
    general: dict[str, list[str]]
    goods: list[tuple[str, str]]  # (hs code, goods)
    countries: list[dict[str, str]]
    currencies: list[dict[str, str]]
    places: list[str]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def load_pools(data: Path, split: str) -> Pools:
    general: dict[str, list[str]] = {}
    for lang, folder in CORPORA.items():
        out: list[str] = []
        with (data / "corpora" / folder / "passages.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                if half(row["title"]) != split:
                    continue
                out.extend(s.strip() for s in _SENTENCE_END.split(row["text"]) if 15 <= len(s.strip()) <= 220)
        general[lang] = out
    goods = []
    for r in _rows(data / "trade" / "harmonized-system.csv"):
        if r["level"] == "6" and half(r["hscode"]) == split:
            name = r["description"].split(";")[0].split(":")[0].strip()
            if 3 <= len(name) <= 60:
                goods.append((r["hscode"], name.lower()))
    countries = [r for r in _rows(data / "trade" / "country-names.csv") if half(r["code"]) == split]
    currencies = [
        r
        for r in _rows(data / "trade" / "currency-names.csv")
        if half(r["code"]) == split and "(" not in r["en"]
    ]
    places = [
        r["Capital"]
        for r in _rows(data / "trade" / "country-codes.csv")
        if r.get("Capital") and half(r["ISO3166-1-Alpha-2"] or r["Capital"]) == split
    ]
    return Pools(general, goods, countries, currencies, places)


class Talk:
    """Makes chat lines of one half."""

    def __init__(self, pools: Pools, split: str, rng: random.Random) -> None:
        self.pools, self.rng = pools, rng
        parity = 0 if split == "dev" else 1
        self.templates = {
            lang: [t for i, t in enumerate(ts) if i % 2 == parity] for lang, ts in TEMPLATES.items()
        }
        self.replies = {
            lang: [t for i, t in enumerate(ts) if i % 2 == parity] for lang, ts in REPLIES.items()
        }

    def trade(self, lang: str) -> str:
        r, p = self.rng, self.pools
        hs, goods = r.choice(p.goods)
        country, currency = r.choice(p.countries), r.choice(p.currencies)
        slots = {
            "goods": goods,
            "hs": f"{hs[:4]}.{hs[4:]}" if r.random() < 0.5 else hs,
            "qty": str(r.choice([5, 10, 20, 25, 40, 100, 250, 500, 1000, 3000])),
            "unit": r.choice(UNITS[lang]),
            "price": f"{r.randint(2, 9000):,}",
            "cur": currency["code"] if r.random() < 0.5 else r.choice(["USD", "EUR", "CNY", "KRW", "JPY"]),
            "curname": currency[NAME_COLUMN[lang]],
            "country": country[NAME_COLUMN[lang]],
            "place": r.choice(p.places),
            "inco": r.choice(INCOTERMS),
            "day": f"{r.randint(1, 28)}/{r.randint(1, 12)}",
        }
        return r.choice(self.templates[lang]).format(**slots)

    def reply(self, lang: str) -> str:
        return self.rng.choice(self.replies[lang])

    def general(self, lang: str) -> str:
        return self.rng.choice(self.pools.general[lang])


@dataclass
class Conversation:
    kind: str  # trade | drifting | general
    lang: str
    lines: list[tuple[str, str]]  # (label, text) with label trade | reply | general

    @property
    def drifts(self) -> bool:
        return self.kind != "trade"


def conversations(talk: Talk, n_trade: int, n_drifting: int, n_general: int) -> list[Conversation]:
    r = talk.rng
    langs = list(CORPORA)
    out: list[Conversation] = []

    def opening(lang: str, k: int) -> list[tuple[str, str]]:
        return [
            ("reply", talk.reply(lang)) if r.random() < 0.3 else ("trade", talk.trade(lang)) for _ in range(k)
        ]

    def chatter(lang: str, k: int) -> list[tuple[str, str]]:
        return [
            ("reply", talk.reply(lang)) if r.random() < 0.2 else ("general", talk.general(lang))
            for _ in range(k)
        ]

    for i in range(n_trade):
        lang = langs[i % len(langs)]
        lines: list[tuple[str, str]] = []
        for _ in range(r.randint(16, 30)):
            x = r.random()
            if x < 0.1 and (not lines or lines[-1][0] != "general"):
                lines.append(("general", talk.general(lang)))
            else:
                lines.append(("reply", talk.reply(lang)) if x < 0.4 else ("trade", talk.trade(lang)))
        if r.random() < 0.3:  # one short digression
            at = r.randint(3, len(lines) - 3)
            lines[at:at] = chatter(lang, r.randint(2, 3))
        out.append(Conversation("trade", lang, lines))
    for i in range(n_drifting):
        lang = langs[i % len(langs)]
        lines = opening(lang, r.randint(3, 10)) + chatter(lang, r.randint(10, 20))
        if r.random() < 0.5:
            lines += opening(lang, r.randint(1, 5))
        out.append(Conversation("drifting", lang, lines))
    for i in range(n_general):
        lang = langs[i % len(langs)]
        out.append(Conversation("general", lang, chatter(lang, r.randint(10, 20))))
    r.shuffle(out)
    return out


def reference_half(data: Path, split: str) -> tuple[object, list[str]]:
    """The trade tables of one half only (HS rows, countries, currencies): the scorer evaluated on one
    half is given the other half's tables, so no test goods, country or currency is in its vocabulary."""
    from entrepot.core.reference import Reference

    hs = {
        r["hscode"]: r["description"]
        for r in _rows(data / "trade" / "harmonized-system.csv")
        if len(r["hscode"]) == 6 and half(r["hscode"]) == split
    }
    names = {
        v.strip().lower(): r["code"]
        for r in _rows(data / "trade" / "country-names.csv")
        if half(r["code"]) == split
        for k, v in r.items()
        if k != "code" and v and len(v) >= 2
    }
    currency_rows = [r for r in _rows(data / "trade" / "currency-names.csv") if half(r["code"]) == split]
    currencies = frozenset(r["code"] for r in currency_rows)
    currency_names = sorted(
        {
            v.strip()
            for r in currency_rows
            for k, v in r.items()
            if k != "code" and v and "(" not in v and len(v) > 1
        }
    )
    return Reference(hs, names, frozenset(names.values()), currencies), currency_names

# ruff: noqa: E501 - one concept a line, in four languages
"""Built-in trade vocabulary for the off-topic rule, in English, Korean, Chinese and Japanese.

One concept a line: ``english | korean | chinese | japanese``, synonyms separated by ``;``. Each
entry is analysed like message text (stemming, Kiwi morphemes, jieba after OpenCC folding, Sudachi),
so write words as a trader would, in any inflection. Chinese entries cover traditional script too.
The reference tables (HS nomenclature, country and currency names) add to this list when the
reference folder is set; this list alone must already recognise ordinary trade talk.
"""

from __future__ import annotations

TERMS = """
# dealing
price; pricing; unit price; price list | 가격; 단가; 시세 | 价格; 单价; 报价单; 行情 | 価格; 単価; 値段; 相場
quote; quotation; offer; counter offer; bid | 견적; 오퍼; 견적서; 입찰 | 报价; 报盘; 还盘; 投标 | 見積; 見積もり; オファー; 入札
order; purchase order; reorder | 주문; 발주; 오더; 수주 | 订单; 订货; 下单 | 注文; 発注; 受注; オーダー
contract; agreement; deal; terms | 계약; 계약서; 조건; 거래 | 合同; 合约; 协议; 成交 | 契約; 契約書; 取引; 条件
negotiate; negotiation; discount; rebate | 협상; 할인; 네고 | 谈判; 折扣; 议价; 砍价 | 交渉; 値引き; 割引
buyer; seller; supplier; vendor; customer; client | 바이어; 구매자; 판매자; 공급업체; 거래처; 고객 | 买方; 卖方; 买家; 卖家; 供应商; 客户; 采购商 | 買い手; 売り手; バイヤー; 仕入先; 取引先; 顧客
manufacturer; factory; mill; plant; producer | 제조사; 공장; 제조업체; 생산자 | 厂家; 工厂; 制造商; 生产商 | メーカー; 工場; 製造元
trade; trading; trader; commerce; business | 무역; 교역; 거래; 상사 | 贸易; 外贸; 进出口; 商贸 | 貿易; 商社; 交易
export; exporter; exports | 수출; 수출업체 | 出口; 出口商 | 輸出; 輸出業者
import; importer; imports | 수입; 수입업체 | 进口; 进口商 | 輸入; 輸入業者
market price; demand; supply; stock; inventory | 수요; 공급; 재고 | 需求; 供应; 库存; 存货 | 需要; 供給; 在庫
commission; margin; profit; cost; fee; charge | 수수료; 마진; 이윤; 원가; 비용 | 佣金; 利润; 成本; 费用 | 手数料; 利益; 原価; 費用
# money
payment; pay; paid; balance; deposit; advance payment; down payment | 결제; 지불; 대금; 잔금; 선금; 계약금; 송금 | 付款; 支付; 货款; 余款; 定金; 预付款; 汇款 | 支払い; 決済; 代金; 残金; 前払い; 手付金; 送金
letter of credit; L/C; documentary credit; LC | 신용장; 엘씨 | 信用证 | 信用状
telegraphic transfer; T/T; wire transfer; remittance | 전신환; 송금 | 电汇 | 電信送金
invoice; proforma invoice; commercial invoice; bill | 인보이스; 송장; 청구서; 세금계산서 | 发票; 形式发票; 商业发票 | 請求書; インボイス; 送り状
bank; bank account; bank guarantee; swift | 은행; 계좌; 보증 | 银行; 账户; 保函 | 銀行; 口座; 保証
exchange rate; currency; dollar; euro; yuan; renminbi; won; yen | 환율; 통화; 달러; 유로; 위안; 원화; 엔화 | 汇率; 货币; 美元; 欧元; 人民币; 韩元; 日元 | 為替; 為替レート; 通貨; ドル; ユーロ; 人民元; ウォン; 円
credit; debt; loan; financing; interest | 여신; 대출; 이자; 금융 | 信贷; 贷款; 利息; 融资 | 与信; 融資; 利息; 借入
# logistics
shipment; ship; shipping; shipped | 선적; 출하; 배송; 발송 | 装运; 发货; 出货; 运输 | 船積み; 出荷; 発送; 輸送
vessel; cargo ship; bulk carrier; tanker | 선박; 본선; 화물선; 유조선 | 船舶; 货轮; 散货船; 油轮 | 本船; 貨物船; タンカー
cargo; freight; goods; consignment | 화물; 운임; 물품; 물동량 | 货物; 运费; 货品 | 貨物; 運賃; 荷物; 商品
container; TEU; FCL; LCL; pallet; carton | 컨테이너; 팔레트; 카톤 | 集装箱; 货柜; 托盘; 纸箱 | コンテナ; パレット; カートン
port; harbour; harbor; terminal; berth | 항구; 항만; 부두; 터미널 | 港口; 码头 | 港; 港湾; 埠頭
loading; discharge; unloading; port of loading; port of discharge | 적재; 하역; 선적항; 도착항 | 装货; 卸货; 装货港; 卸货港 | 積み込み; 荷揚げ; 積出港; 仕向港
warehouse; storage; bonded warehouse | 창고; 보관; 보세창고 | 仓库; 仓储; 保税仓 | 倉庫; 保管; 保税倉庫
logistics; forwarder; freight forwarder; carrier; shipping line | 물류; 포워더; 운송사; 선사 | 物流; 货代; 承运人; 船公司 | 物流; フォワーダー; 運送会社; 船会社
delivery; lead time; deadline; schedule; ETA; ETD | 납품; 납기; 인도; 일정; 도착 예정 | 交货; 交期; 交付; 到港 | 納品; 納期; 引き渡し; 到着予定
bill of lading; B/L; packing list; airway bill | 선하증권; 비엘; 패킹리스트; 포장명세서 | 提单; 装箱单 | 船荷証券; パッキングリスト
certificate of origin; certificate; inspection; survey; quality certificate | 원산지증명서; 원산지; 검사; 검수; 증명서 | 原产地证; 原产地; 检验; 验货; 证书 | 原産地証明書; 原産地; 検査; 検品; 証明書
insurance; insured; marine insurance | 보험; 적하보험 | 保险; 货运险 | 保険; 貨物保険
# customs and rules
customs; customs clearance; declaration | 통관; 세관; 신고 | 海关; 清关; 报关 | 通関; 税関; 申告
duty; tariff; tax; VAT; quota | 관세; 세금; 부가세; 쿼터 | 关税; 税; 增值税; 配额 | 関税; 税金; 消費税; 割当
licence; license; permit; sanction; embargo; restriction | 허가; 면허; 제재; 금수; 규제 | 许可证; 许可; 制裁; 禁运; 限制 | 許可; ライセンス; 制裁; 禁輸; 規制
# goods and measures
sample; specification; spec; quality; grade; standard | 샘플; 견본; 사양; 품질; 등급; 규격 | 样品; 规格; 质量; 品质; 等级; 标准 | サンプル; 見本; 仕様; 品質; 等級; 規格
quantity; volume; tonne; ton; tons; metric ton; kilogram; kg; unit; piece; lot; batch | 수량; 물량; 톤; 킬로그램; 개; 로트 | 数量; 吨; 公斤; 千克; 件; 批 | 数量; トン; キロ; 個; ロット
product; goods; commodity; raw material; material | 제품; 상품; 원자재; 원료; 자재 | 产品; 商品; 原材料; 原料; 物资 | 製品; 商品; 原材料; 原料; 資材
steel; iron; iron ore; scrap; coil; rebar; hot rolled; cold rolled | 철강; 강철; 철광석; 고철; 코일; 철근; 열연; 냉연 | 钢材; 钢铁; 铁矿石; 废钢; 卷材; 螺纹钢; 热轧; 冷轧 | 鉄鋼; 鋼材; 鉄鉱石; スクラップ; コイル; 鉄筋; 熱延; 冷延
copper; zinc; aluminium; aluminum; nickel; lead; tin; ingot; cathode; alloy | 구리; 동; 아연; 알루미늄; 니켈; 납; 주석; 잉곳 | 铜; 锌; 铝; 镍; 铅; 锡; 锭; 阴极铜 | 銅; 亜鉛; アルミ; アルミニウム; ニッケル; 鉛; 錫; インゴット
coal; coke; crude oil; oil; petroleum; diesel; gasoline; fuel; LNG; LPG | 석탄; 코크스; 원유; 석유; 경유; 휘발유; 연료 | 煤炭; 焦炭; 原油; 石油; 柴油; 汽油; 燃料 | 石炭; コークス; 原油; 石油; 軽油; ガソリン; 燃料
rice; wheat; corn; maize; soybean; sugar; flour; grain; feed | 쌀; 밀; 옥수수; 대두; 콩; 설탕; 밀가루; 곡물; 사료 | 大米; 小麦; 玉米; 大豆; 白糖; 面粉; 粮食; 饲料 | 米; 小麦; トウモロコシ; 大豆; 砂糖; 小麦粉; 穀物; 飼料
fertilizer; urea; chemical; resin; plastic; rubber; polymer | 비료; 요소; 화학; 수지; 플라스틱; 고무 | 化肥; 尿素; 化工; 树脂; 塑料; 橡胶 | 肥料; 尿素; 化学品; 樹脂; プラスチック; ゴム
cotton; yarn; fabric; textile; garment; apparel; clothing | 면화; 원사; 원단; 섬유; 의류 | 棉花; 纱线; 面料; 纺织品; 服装 | 綿花; 糸; 生地; 繊維; 衣料
timber; lumber; wood; pulp; paper; cement | 목재; 원목; 펄프; 종이; 시멘트 | 木材; 原木; 纸浆; 纸张; 水泥 | 木材; 原木; パルプ; 紙; セメント
machinery; machine; equipment; spare parts; parts; tyre; tire | 기계; 설비; 장비; 부품; 예비 부품; 타이어 | 机械; 设备; 配件; 零部件; 轮胎 | 機械; 設備; 部品; 予備部品; タイヤ
fish; seafood; frozen; meat; beef; pork; fruit; vegetables | 수산물; 냉동; 육류; 소고기; 돼지고기; 과일; 채소 | 水产品; 冷冻; 肉类; 牛肉; 猪肉; 水果; 蔬菜 | 水産物; 冷凍; 食肉; 牛肉; 豚肉; 果物; 野菜
"""

#: Trade terms that are also everyday words; they count, but less.
WEAK = frozenset({"oil", "bank", "tax", "iron", "lead", "tin", "feed", "paper", "interest", "credit", "pay", "paid",
                  "bill", "terms", "order", "business", "volume", "unit", "piece", "material", "frozen",
                  "port", "schedule", "standard", "grade", "quality", "plant", "mill", "batch", "lot", "won",
                  "yen", "cost", "charge", "deal", "product", "goods", "market price", "demand", "supply", "stock",
                  "동", "납", "밀", "쌀", "콩", "개", "요소", "화학", "종이", "기계", "수지", "米", "港", "紙", "糸",
                  "件", "批", "税", "锭", "铅", "锡", "個"})

#: Incoterms 2020 (and the common older ones): written in capitals, they mark trade talk.
INCOTERMS = ("EXW", "FCA", "FAS", "FOB", "CFR", "CIF", "CPT", "CIP", "DAP", "DPU", "DDP", "DAT", "DDU", "C&F", "CNF")


def entries() -> list[tuple[str, str]]:
    """(language, term) pairs of the built-in list."""
    langs = ("en", "ko", "zh", "ja")
    out: list[tuple[str, str]] = []
    for line in TERMS.strip().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        for lang, cell in zip(langs, line.split("|"), strict=True):
            out.extend((lang, term.strip()) for term in cell.split(";") if term.strip())
    return out

"""Short trade-document paragraphs, one per language, written for these tests."""

SAMPLES: dict[str, str] = {
    "ko": (
        "본 계약에 따라 매도인은 2024년 3월 15일까지 부산항에서 선적을 완료하여야 하며, "
        "매수인은 선적서류를 받은 날로부터 삼십 일 이내에 대금을 지급한다. 물품의 품질과 "
        "수량은 검사 증명서에 따르며, 포장은 수출용 표준 포장으로 한다. 분쟁이 발생하는 "
        "경우 양 당사자는 서울에서 중재로 해결하기로 합의한다."
    ),
    "zh-Hans": (
        "根据本合同，卖方应于二零二四年三月十五日前在上海港完成装运，买方应在收到全部单据后"
        "三十天内付清货款。货物的质量和数量以检验证书为准，包装应采用适合长途运输的出口标准"
        "包装。如发生争议，双方同意通过友好协商解决，协商不成的提交仲裁委员会裁决。"
    ),
    "zh-Hant": (
        "根據本合約，賣方應於二零二四年三月十五日前在高雄港完成裝運，買方應在收到全部單據後"
        "三十天內付清貨款。貨物的品質和數量以檢驗證書為準，包裝應採用適合長途運輸的出口標準"
        "包裝。如發生爭議，雙方同意經由友好協商解決，協商不成者提交仲裁委員會裁決。"
    ),
    "ja": (
        "本契約に基づき、売主は二〇二四年三月十五日までに横浜港にて船積みを完了するものとし、"
        "買主は船積書類を受領した日から三十日以内に代金を支払うものとする。貨物の品質および"
        "数量は検査証明書によるものとし、梱包は輸出用の標準梱包とする。紛争が生じた場合には、"
        "両当事者は東京における仲裁により解決することに合意する。"
    ),
    "en": (
        "Under this contract the seller shall complete shipment at the port of Rotterdam no later "
        "than 15 March 2024, and the buyer shall pay the invoice within thirty days of receiving "
        "the shipping documents. Quality and quantity are final as stated in the certificate of "
        "inspection. Any dispute shall be settled by arbitration in London."
    ),
}

# words that must appear in the PDF text layer
PDF_WORDS: dict[str, list[str]] = {
    "en": ["Rotterdam", "arbitration", "inspection"],
    "ko": ["부산항에서", "계약에"],
}

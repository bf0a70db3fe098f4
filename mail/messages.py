# ruff: noqa: RUF001 - native punctuation and scripts are the point of this file
"""The words of the mail to buyers, in every served language (the ticket's own words, such as
"Valid until", are ticketing's: `ticketing/messages.py`).

A word missing in a language is sent in English; a test holds every served language to having
every word, with the same placeholders.
"""

from __future__ import annotations

from ticketing.messages import words as ticket_words

_EN = {
    "confirmation_subject": "Your Hội An tickets, order {code}",
    "confirmation_intro": "Thank you. Here are your tickets for order {code}. Show each code at "
    "the gate, on your phone or printed.",
    "ticket_heading": "Ticket {number} of {count}: {product}",
    "order_link": "Your order, with every ticket, at any time:",
    "refund_subject": "Refund for your Hội An order {code}",
    "refund_intro": "We have refunded {amount} for order {code}.",
    "refund_tickets": "These tickets no longer admit:",
    "refund_stripe": "The money goes back to the card you paid with; your bank may take a few "
    "days to show it.",
    "refund_cash": "The money was handed back at the ticket desk.",
    "refund_vietqr": "The money was sent back by bank transfer to the account you paid from.",
    "refund_remaining": "Your other tickets stay valid.",
    "signature": "Hội An heritage tickets",
}

MESSAGES: dict[str, dict[str, str]] = {
    "en": _EN,
    "vi": {
        "confirmation_subject": "Vé tham quan Hội An của bạn, đơn hàng {code}",
        "confirmation_intro": "Cảm ơn bạn. Đây là vé của đơn hàng {code}. Đưa mã của từng vé "
        "tại cổng, trên điện thoại hoặc bản in.",
        "ticket_heading": "Vé {number}/{count}: {product}",
        "order_link": "Đơn hàng của bạn, với tất cả các vé, lúc nào cũng xem được:",
        "refund_subject": "Hoàn tiền cho đơn hàng Hội An {code}",
        "refund_intro": "Chúng tôi đã hoàn {amount} cho đơn hàng {code}.",
        "refund_tickets": "Các vé sau không còn giá trị vào cửa:",
        "refund_stripe": "Tiền được hoàn về thẻ bạn đã dùng; ngân hàng có thể mất vài ngày "
        "để hiển thị.",
        "refund_cash": "Tiền đã được trả lại tại quầy vé.",
        "refund_vietqr": "Tiền đã được chuyển khoản lại vào tài khoản bạn đã dùng để thanh toán.",
        "refund_remaining": "Các vé khác của bạn vẫn còn giá trị.",
        "signature": "Vé tham quan di sản Hội An",
    },
    "ko": {
        "confirmation_subject": "호이안 티켓, 주문 {code}",
        "confirmation_intro": "감사합니다. 주문 {code}의 티켓입니다. 입구에서 휴대폰이나 "
        "인쇄본으로 각 코드를 보여 주세요.",
        "ticket_heading": "티켓 {number}/{count}: {product}",
        "order_link": "모든 티켓이 담긴 주문은 언제든지 여기에서 볼 수 있습니다:",
        "refund_subject": "호이안 주문 {code} 환불",
        "refund_intro": "주문 {code}에 대해 {amount}를 환불했습니다.",
        "refund_tickets": "다음 티켓은 더 이상 입장할 수 없습니다:",
        "refund_stripe": "결제한 카드로 환불됩니다. 은행에 표시되기까지 며칠 걸릴 수 있습니다.",
        "refund_cash": "매표소에서 현금으로 돌려 드렸습니다.",
        "refund_vietqr": "결제한 계좌로 이체해 돌려 드렸습니다.",
        "refund_remaining": "나머지 티켓은 그대로 유효합니다.",
        "signature": "호이안 문화유산 티켓",
    },
    "zh": {
        "confirmation_subject": "您的会安门票，订单 {code}",
        "confirmation_intro": "谢谢。这是订单 {code} 的门票。请在入口用手机或打印件出示每张票的码。"
        "",
        "ticket_heading": "第{number}张，共{count}张：{product}",
        "order_link": "您的订单及所有门票，随时可在此查看：",
        "refund_subject": "会安订单 {code} 的退款",
        "refund_intro": "我们已为订单 {code} 退款{amount}。",
        "refund_tickets": "以下门票不能再入场：",
        "refund_stripe": "款项将退回您付款的银行卡；银行可能需要几天才会显示。",
        "refund_cash": "款项已在售票处以现金退还。",
        "refund_vietqr": "款项已通过银行转账退回您付款的账户。",
        "refund_remaining": "您的其他门票仍然有效。",
        "signature": "会安文化遗产门票",
    },
    "ja": {
        "confirmation_subject": "ホイアンのチケット（注文 {code}）",
        "confirmation_intro": "ありがとうございます。注文 {code} のチケットです。入口で各コードを"
        "スマートフォンか印刷で見せてください。",
        "ticket_heading": "チケット {number}/{count}：{product}",
        "order_link": "すべてのチケットを含む注文は、いつでもこちらで見られます：",
        "refund_subject": "ホイアンの注文 {code} の払い戻し",
        "refund_intro": "注文 {code} について{amount}を払い戻しました。",
        "refund_tickets": "次のチケットでは入場できなくなりました：",
        "refund_stripe": "お支払いに使ったカードに返金されます。銀行に反映されるまで数日かかる"
        "ことがあります。",
        "refund_cash": "チケット窓口で現金でお返ししました。",
        "refund_vietqr": "お支払いに使った口座へ銀行振込でお返ししました。",
        "refund_remaining": "ほかのチケットは引き続き有効です。",
        "signature": "ホイアン文化遺産チケット",
    },
    "fr": {
        "confirmation_subject": "Vos billets pour Hội An, commande {code}",
        "confirmation_intro": "Merci. Voici vos billets de la commande {code}. Montrez chaque "
        "code à l’entrée, sur votre téléphone ou imprimé.",
        "ticket_heading": "Billet {number} sur {count} : {product}",
        "order_link": "Votre commande, avec tous les billets, à tout moment :",
        "refund_subject": "Remboursement de votre commande Hội An {code}",
        "refund_intro": "Nous avons remboursé {amount} pour la commande {code}.",
        "refund_tickets": "Ces billets ne donnent plus accès :",
        "refund_stripe": "L’argent revient sur la carte utilisée ; votre banque peut mettre "
        "quelques jours à l’afficher.",
        "refund_cash": "L’argent vous a été rendu au guichet.",
        "refund_vietqr": "L’argent a été renvoyé par virement sur le compte qui a payé.",
        "refund_remaining": "Vos autres billets restent valables.",
        "signature": "Billetterie du patrimoine de Hội An",
    },
    "de": {
        "confirmation_subject": "Ihre Tickets für Hội An, Bestellung {code}",
        "confirmation_intro": "Vielen Dank. Hier sind Ihre Tickets der Bestellung {code}. "
        "Zeigen Sie jeden Code am Eingang, auf dem Handy oder ausgedruckt.",
        "ticket_heading": "Ticket {number} von {count}: {product}",
        "order_link": "Ihre Bestellung mit allen Tickets, jederzeit:",
        "refund_subject": "Erstattung Ihrer Hội-An-Bestellung {code}",
        "refund_intro": "Wir haben {amount} für die Bestellung {code} erstattet.",
        "refund_tickets": "Diese Tickets gelten nicht mehr:",
        "refund_stripe": "Das Geld geht auf die Karte zurück, mit der Sie bezahlt haben; Ihre "
        "Bank zeigt es eventuell erst nach einigen Tagen an.",
        "refund_cash": "Das Geld wurde an der Ticketkasse zurückgegeben.",
        "refund_vietqr": "Das Geld wurde per Überweisung auf das zahlende Konto zurückgeschickt.",
        "refund_remaining": "Ihre anderen Tickets bleiben gültig.",
        "signature": "Hội An Kulturerbe-Tickets",
    },
    "es": {
        "confirmation_subject": "Sus entradas de Hội An, pedido {code}",
        "confirmation_intro": "Gracias. Aquí tiene las entradas del pedido {code}. Muestre cada "
        "código en la entrada, en el teléfono o impreso.",
        "ticket_heading": "Entrada {number} de {count}: {product}",
        "order_link": "Su pedido, con todas las entradas, en cualquier momento:",
        "refund_subject": "Reembolso de su pedido de Hội An {code}",
        "refund_intro": "Hemos reembolsado {amount} del pedido {code}.",
        "refund_tickets": "Estas entradas ya no dan acceso:",
        "refund_stripe": "El dinero vuelve a la tarjeta con la que pagó; su banco puede tardar "
        "unos días en mostrarlo.",
        "refund_cash": "El dinero se le devolvió en la taquilla.",
        "refund_vietqr": "El dinero se devolvió por transferencia a la cuenta desde la que pagó.",
        "refund_remaining": "Sus demás entradas siguen siendo válidas.",
        "signature": "Entradas del patrimonio de Hội An",
    },
    "ru": {
        "confirmation_subject": "Ваши билеты в Хойан, заказ {code}",
        "confirmation_intro": "Спасибо. Вот билеты по заказу {code}. Покажите код каждого "
        "билета на входе, на телефоне или распечатанным.",
        "ticket_heading": "Билет {number} из {count}: {product}",
        "order_link": "Ваш заказ со всеми билетами, в любое время:",
        "refund_subject": "Возврат по заказу {code} в Хойане",
        "refund_intro": "Мы вернули {amount} по заказу {code}.",
        "refund_tickets": "По этим билетам больше нельзя пройти:",
        "refund_stripe": "Деньги вернутся на карту, которой вы платили; банк может показать "
        "их через несколько дней.",
        "refund_cash": "Деньги возвращены в кассе.",
        "refund_vietqr": "Деньги возвращены переводом на счёт, с которого вы платили.",
        "refund_remaining": "Остальные билеты остаются действительными.",
        "signature": "Билеты на объекты наследия Хойана",
    },
}


def words(lang: str) -> dict[str, str]:
    """The mail's words in `lang` (with the ticket's own), English for anything missing."""
    return {**ticket_words(lang), **_EN, **MESSAGES.get(lang, {})}

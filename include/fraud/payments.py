"""The columns of a bank's authorisation feed beyond the Handbook's five, and their domains.

``raw.transactions`` holds the Handbook's five columns (id, time, card, terminal, amount) and
five optional ones a real feed carries: the channel, the merchant category (ISO 18245), the
merchant's country (ISO 3166-1 alpha-2), the currency (ISO 4217) and the amount in that currency.
``tx_amount`` stays the amount in the bank's reporting currency, which features and money use.
A bank without some of them leaves them null. Their domains are declared here once: the gate
checks them (``expectations/transactions.json`` reads the sets below as parameters, and its
channel set is tested equal to ``CHANNELS``) and the simulator draws from them.
"""

from __future__ import annotations

HANDBOOK_COLUMNS = ("transaction_id", "tx_datetime", "customer_id", "terminal_id", "tx_amount")
BANK_COLUMNS = ("channel", "merchant_category", "merchant_country", "currency", "original_amount")
# The bank columns holding text (the fifth, original_amount, is an exact decimal like tx_amount).
BANK_TEXT_COLUMNS = BANK_COLUMNS[:4]
TRANSACTION_COLUMNS = (*HANDBOOK_COLUMNS, *BANK_COLUMNS)

CARD_PRESENT, CONTACTLESS, ECOMMERCE, ATM = "card_present", "contactless", "ecommerce", "atm"
# How the card met the merchant: chip or magnetic stripe at a terminal, a tap, a card-not-present
# payment online (or by mail or telephone), a cash withdrawal.
CHANNELS = (CARD_PRESENT, CONTACTLESS, ECOMMERCE, ATM)

# ISO 18245: a merchant category code is four digits (\Z, unlike $, refuses a trailing newline).
MERCHANT_CATEGORY_PATTERN = r"^[0-9]{4}\Z"

# ISO 3166-1 alpha-2: the 249 officially assigned codes (no user-assigned or reserved ones).
COUNTRY_CODES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW
    """.split()
)

# ISO 4217 list one: the circulating currencies. Fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN,
# UYI, UYW), precious metals, bond-market units, XDR, XSU, XUA and the testing and "no currency"
# codes XTS and XXX are left out: a card payment is never in them, and XTS marks test traffic.
# ANG stays while the Caribbean guilder (XCG) replaces it.
CURRENCY_CODES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
    GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF
    KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN
    MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD
    SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH
    UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()
)


def gate_parameters() -> dict[str, list[str]]:
    """The declared code sets as the gate's expectation parameters, sorted for stable results."""
    return {
        "country_codes": sorted(COUNTRY_CODES),
        "currency_codes": sorted(CURRENCY_CODES),
    }

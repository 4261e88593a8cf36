"""The demo's listed companies: ASX-like codes, names, price levels and liquidity.

Everything derives from the seed, so the same seed always lists the same companies with the
same conids. A few real large-cap codes come first so ``--symbol BHP`` works in both the demo
and against IBKR.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

WELL_KNOWN = (
    "BHP", "CBA", "CSL", "NAB", "WBC", "ANZ", "WES", "MQG", "FMG", "RIO",
    "TLS", "WOW", "WDS", "GMG", "TCL", "STO", "COL", "QBE", "REA", "PLS",
    "MIN", "LYC", "XRO", "SUN", "IAG", "ORG", "NST", "EVN", "S32", "QAN",
)  # fmt: skip

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NAME_START = ("Aur", "Bal", "Cor", "Del", "Eld", "Fal", "Gal", "Hal", "Ion", "Jas",
               "Kal", "Lun", "Mar", "Nov", "Opa", "Pil", "Qua", "Red", "Sil", "Tor",
               "Ult", "Ver", "Wes", "Xan", "Yar", "Zen")  # fmt: skip
_NAME_END = ("a", "ex", "ion", "is", "on", "ora", "ta", "um", "us", "ix")
_NAME_KIND = ("Resources", "Minerals", "Gold", "Lithium", "Energy", "Health",
              "Technologies", "Holdings", "Group", "Metals", "Therapeutics", "Capital")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Ticker:
    """One listed company and the fixed parameters of its simulated price.

    ``base`` is the centre of its slowly wandering fair price; ``swing``/``period``/``phase``
    shape that wander (two sine waves, in log space); ``daily_vol`` is the typical daily
    volatility; ``turnover`` the typical daily dollar volume.
    """

    symbol: str
    conid: int
    name: str
    base: float
    swing: tuple[float, float]
    period: tuple[float, float]
    phase: tuple[float, float]
    daily_vol: float
    turnover: float


def generate_universe(seed: int, size: int) -> list[Ticker]:
    """``size`` tickers, deterministic for ``seed``; codes are unique 3-letter ASX-like codes."""
    rng = random.Random(f"skimd-demo|{seed}|universe")
    symbols: list[str] = list(WELL_KNOWN[: min(size, len(WELL_KNOWN))])
    seen = set(symbols)
    while len(symbols) < size:
        code = "".join(rng.choice(_LETTERS) for _ in range(3))
        if code not in seen:
            seen.add(code)
            symbols.append(code)
    conids: set[int] = set()
    tickers: list[Ticker] = []
    for symbol in symbols:
        conid = rng.randint(1_000_000, 899_999_999)
        while conid in conids:
            conid = rng.randint(1_000_000, 899_999_999)
        conids.add(conid)
        # log-uniform fair price, kept inside $0.08-$80 so prior closes stay in $0.05-$120;
        # the well-known large caps trade in dollars, not cents
        low = 5.0 if symbol in WELL_KNOWN else 0.08
        base = math.exp(rng.uniform(math.log(low), math.log(80.0)))
        penny = base < 1.0
        name = (
            f"{rng.choice(_NAME_START)}{rng.choice(_NAME_END)} {rng.choice(_NAME_KIND)} Ltd"
        )
        tickers.append(
            Ticker(
                symbol=symbol,
                conid=conid,
                name=name,
                base=base,
                swing=(rng.uniform(0.05, 0.22), rng.uniform(0.01, 0.05)),
                period=(rng.uniform(80.0, 250.0), rng.uniform(8.0, 30.0)),
                phase=(rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)),
                daily_vol=rng.uniform(0.03, 0.06) if penny else rng.uniform(0.012, 0.03),
                turnover=math.exp(rng.uniform(math.log(5e4), math.log(5e7))),
            )
        )
    return tickers

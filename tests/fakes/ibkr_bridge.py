"""The brokerage-session ("bridge") state of the fake IBKR, as IBKR documents it.

Facts the fake plays (sources beside each):

- The OAuth live session token only opens the *read-only* login session; ``/iserver/*``
  (market data, scanners, orders) needs a brokerage session opened by ``POST
  /iserver/auth/ssodh/init``, and IBKR allows one brokerage session per username at a time
  (https://ibkrcampus.com/ibkr-quant-news/tutorial-web-api-connect-to-brokerage-session/).
  IBind initialises it after every new token (``oauth_init`` → ``initialize_brokerage_session``,
  https://github.com/Voyz/ibind/blob/master/ibind/client/ibkr_client.py).
- Without a brokerage session IBKR answers ``/iserver/*`` with ``400`` and the error text
  ``Bad Request: no bridge``; IBind recognises exactly that status and text and tells the
  caller to call ``initialize_brokerage_session()`` (same ibkr_client.py, ``_request``).
- ``/iserver/auth/status`` (and ``/tickle``'s ``iserver.authStatus``) report
  ``authenticated``/``competing``/``connected``; "Market Data and Trading is not possible if
  not authenticated, e.g. authenticated shows false" (IBKR's spec text of the endpoint, as
  generated in https://docs.rs/ib_client/1.0.0/i686-unknown-linux-gnu/ib_client/apis/session_api/fn.iserver_auth_status_post.html);
  before ``ssodh/init`` it says ``authenticated: false`` (IBind's ``check_auth_status`` counts
  only authenticated and not competing and connected as healthy,
  https://github.com/Voyz/ibind/blob/master/ibind/client/ibkr_client_mixins/session_mixin.py).
- ``competing``: another login (TWS, IBKR Mobile, Client Portal) holds the one brokerage
  session (same tutorial); ``compete: true`` in ``ssodh/init`` asks to take it over, which
  need not succeed while the other login keeps reclaiming it (:attr:`Bridge.sticky_inits`).
- IBKR resets its servers nightly; the brokerage session drops and must be initialised again
  (https://www.interactivebrokers.com/en/index.php?f=2225, the system-reset schedule).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from skimd.clock import Clock

NO_BRIDGE = "Bad Request: no bridge"


@dataclass
class Bridge:
    """Counters and knobs of the brokerage session; the fake's ``authenticated`` /
    ``competing`` flags hold its current state."""

    clock: Clock
    sticky_inits: int = 0  # ssodh/init calls that stay competing (another login holds on)
    refuse_until: float = float("-inf")  # monotonic: ssodh/init cannot succeed before this
    up_at: float | None = None  # monotonic: a settling ssodh/init completes then
    no_bridge_answers: int = 0
    init_at: list[float] = field(default_factory=list)  # monotonic time of every ssodh/init
    drops: list[tuple[float, str]] = field(default_factory=list)  # (monotonic, why)

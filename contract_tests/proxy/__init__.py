"""``letta-contract proxy``: a validating proxy between an application and a Letta server.

It forwards every request unchanged and judges what passes with the suite's own checks and
rules (:mod:`.judge`), and can record each exchange (:mod:`.cassette`). Never imported by
the pytest plugin: only the ``proxy`` command and code that asks for it load it.
"""

from letta_contract_kit.contract_tests.proxy.server import (
    ProxyConfig,
    ProxyServer,
    run_proxy,
)

__all__ = ["ProxyConfig", "ProxyServer", "run_proxy"]

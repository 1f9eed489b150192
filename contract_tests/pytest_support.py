"""What the pytest plugin needs once its options are used: run the suite, show progress."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest

from letta_contract_kit.contract_tests.engine import run_suite
from letta_contract_kit.contract_tests.events import Listener, SuiteResult
from letta_contract_kit.contract_tests.options import config_from
from letta_contract_kit.contract_tests.reporting import ConsoleReporter, JsonReporter, JUnitReporter


def run_for_pytest(pytestconfig: pytest.Config, values: dict[str, Any]) -> SuiteResult:
    config = config_from(values)
    stream: Any = sys.stderr if pytestconfig.getoption("verbose") > 0 else io.StringIO()
    listeners: list[Listener] = [
        ConsoleReporter(
            stream,
            reproduce="pytest --pyargs letta_contract_kit.contract_tests",
            option_prefix="--letta-",
        )
    ]
    if values.get("junit_xml"):
        listeners.append(JUnitReporter(values["junit_xml"]))
    if values.get("report"):
        listeners.append(JsonReporter(values["report"]))
    return run_suite(config, listeners)


def selected_checks(pytestconfig: pytest.Config) -> list[str]:
    from letta_contract_kit.contract_tests.checks.selection import UnknownCheck, select

    only = pytestconfig.getoption("letta_check") or ()
    skip = pytestconfig.getoption("letta_skip_check") or ()
    try:
        return [c.name for c in select(only, skip)]
    except UnknownCheck as exc:
        raise pytest.UsageError(str(exc)) from None

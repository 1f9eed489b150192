"""Reporters: they consume the engine's events; the engine itself never prints."""

from letta_contract_kit.contract_tests.reporting.console import ConsoleReporter
from letta_contract_kit.contract_tests.reporting.json_report import JsonReporter
from letta_contract_kit.contract_tests.reporting.junit import JUnitReporter

__all__ = ["ConsoleReporter", "JUnitReporter", "JsonReporter"]

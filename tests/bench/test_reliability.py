"""Reading pytest's JUnit report into rows of the reliability table."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bench.reliability import ROWS, outcomes, table

REPORT = ET.fromstring(
    """<testsuites><testsuite>
    <testcase classname="tests.integration.test_worker" name="test_a"/>
    <testcase classname="tests.integration.test_worker" name="test_b"><failure/></testcase>
    <testcase classname="tests.integration.test_worker" name="test_c[sasl_ssl]"/>
    <testcase classname="tests.streams.test_settings" name="test_x"/>
    <testcase classname="tests.streams.test_settings" name="test_y"><skipped/></testcase>
    </testsuite></testsuites>"""
)


def test_a_test_node_is_its_own_case() -> None:
    assert outcomes("tests/integration/test_worker.py::test_a", REPORT) == [True]
    assert outcomes("tests/integration/test_worker.py::test_b", REPORT) == [False]
    assert outcomes("tests/integration/test_worker.py::test_gone", REPORT) == []


def test_a_parametrized_test_is_all_its_parameters() -> None:
    assert outcomes("tests/integration/test_worker.py::test_c", REPORT) == [True]


def test_a_file_node_is_all_its_cases_and_a_skip_is_not_a_pass() -> None:
    assert outcomes("tests/streams/test_settings.py", REPORT) == [True, False]


def test_the_table_says_how_many_rounds_each_row_passed() -> None:
    text = table(3, [3] * (len(ROWS) - 1) + [2])
    assert text.count("| 3 of 3 |") == len(ROWS) - 1 and "| 2 of 3 |" in text
    assert "python -m bench.reliability --repeat 3 --write" in text

"""What a health-checked registration reports (for the agent): checks run, failures, the latest result."""

from __future__ import annotations

from zkservices import HealthCheckedRegistration
from zkservices._discovery import CommandCheck

from _util import wait_for

WAIT = 30.0


def test_check_counters_and_latest_result(zk, tmp_path):
    flag = tmp_path / "up"
    flag.write_text("")
    check = CommandCheck(f"test -e {flag} || {{ echo down >&2; exit 3; }}")
    with HealthCheckedRegistration(zk, "/svc/providers", "10.0.0.1:80", check=check, interval=0.05,
                                   rise=1, fall=1) as registration:
        assert registration.check_ok is None or registration.checks > 0
        wait_for(lambda: registration.registered, WAIT, "registered")
        assert (registration.check_ok, registration.check_failures) == (True, 0)
        flag.unlink()
        # the failure is counted on the monitor's thread, the node removed on the registration's
        wait_for(lambda: not registration.registered and registration.check_failures >= 1, WAIT, "unregistered")
        assert registration.check_ok is False
        assert "down" in registration.check_output
        failures = registration.check_failures
        wait_for(lambda: registration.check_failures > failures, WAIT, "every failure counted")
    assert zk.get_children("/svc/providers") == []

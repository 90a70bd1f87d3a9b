"""The master port's exposure (docs/security.md): it has no authentication, so --processes
keeps it on loopback unless told otherwise, and a master listening on every interface
says what that means."""

import pytest

from conftest import SLACK, assert_clean_exit, free_port, start_dashboard

U = {"users": [{"name": "U", "wait_time": 0.05, "tasks": [{"request": "GET /ok"}]}]}
ALL_INTERFACES = "listens on all interfaces, with no authentication or encryption"


def test_processes_keep_the_master_port_on_loopback(cicada, target):
    cicada.write("u.json", U)
    port = free_port()
    r = cicada.run("-f", "u.json", "-H", target.url, "--headless", "-u", 2, "-r", 10,
                   "-t", "2s", "--processes", 2, "--master-bind-port", port,
                   timeout=30 + SLACK)
    assert r.rc == 0, r
    assert f"Master listening for workers at tcp://127.0.0.1:{port}" in r.err, r.err
    assert r.err.count("Connected to the master at tcp://127.0.0.1:") == 2, r.err
    assert ALL_INTERFACES not in r.err
    assert target.total() > 0


def test_master_on_all_interfaces_warns(cicada, target):
    cicada.write("u.json", U)
    port = free_port()
    d = start_dashboard(cicada, "-f", "u.json", "-H", target.url, "--master",
                        "--master-bind-host", "*", "--master-bind-port", port)
    err = d.proc.err_text()
    assert f"The master port {port} {ALL_INTERFACES}" in err, err
    assert_clean_exit(d.stop_process(), codes=(0,))


@pytest.mark.parametrize("host", ["127.0.0.1"])
def test_master_on_a_chosen_address_does_not_warn(cicada, target, host):
    cicada.write("u.json", U)
    port = free_port()
    d = start_dashboard(cicada, "-f", "u.json", "-H", target.url, "--master",
                        "--master-bind-host", host, "--master-bind-port", port)
    err = d.proc.err_text()
    assert f"Master listening for workers at tcp://{host}:{port}" in err, err
    assert ALL_INTERFACES not in err
    assert_clean_exit(d.stop_process(), codes=(0,))

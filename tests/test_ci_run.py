""".ci/run brings PostgreSQL up without ever restarting or stopping it: the server may
be shared by other jobs. It runs here against stand-ins for the PostgreSQL tools (and
for pip and tox), which log their calls; no real server is touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "run"

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or shutil.which("bash") is None or not SCRIPT.exists(),
    reason="needs bash and the source tree's .ci/run",
)

# Each stand-in logs its arguments. pg_isready answers the statuses listed in
# isready (one per call, the last repeated), or 0 once the server was started.
STUBS = {
    "pg_isready": """
        echo "pg_isready $*" >> "$STUBS/log"
        [ -e "$STUBS/started" ] && exit 0
        codes=($(cat "$STUBS/isready"))
        n=$(cat "$STUBS/isready.n" 2>/dev/null || echo 0)
        echo $((n + 1)) > "$STUBS/isready.n"
        [ "$n" -lt "${#codes[@]}" ] || n=$((${#codes[@]} - 1))
        exit "${codes[$n]}"
    """,
    "pg_lsclusters": """
        echo "pg_lsclusters $*" >> "$STUBS/log"
        echo "15  main    5432 $(cat "$STUBS/cluster") postgres /var/lib/pg /var/log/pg.log"
    """,
    "pg_ctlcluster": """
        echo "pg_ctlcluster $*" >> "$STUBS/log"
        case "$*" in
            *status) [ "$(cat "$STUBS/cluster")" = online ] && exit 0 || exit 3 ;;
            *restart | *stop) exit 0 ;;
            *start)
                [ "$(cat "$STUBS/cluster")" = online ] && exit 2
                [ -e "$STUBS/start-fails" ] && exit 1
                echo online > "$STUBS/cluster"; touch "$STUBS/started"; exit 0 ;;
            *) exit 0 ;;
        esac
    """,
    "psql": 'echo "psql $*" >> "$STUBS/log"; echo 1',
    "apt-get": 'echo "apt-get $*" >> "$STUBS/log"',
    "python": 'echo "python $*" >> "$STUBS/log"',
    "tox": 'echo "tox $*" >> "$STUBS/log"',
    "pyenv": "exit 0",
}


def run_ci(
    tmp_path: Path,
    isready: str,
    cluster: str,
    *,
    wait: int = 60,
    start_fails: bool = False,
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run .ci/run with pg_isready answering ``isready`` and the cluster ``cluster``
    (online or down); returns the run and the PostgreSQL tools' calls."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name, body in STUBS.items():
        path = stubs / name
        path.write_text("#!/usr/bin/env bash\n" + body, encoding="utf-8")
        path.chmod(0o755)
    (stubs / "isready").write_text(isready, encoding="utf-8")
    (stubs / "cluster").write_text(cluster, encoding="utf-8")
    if start_fails:
        (stubs / "start-fails").touch()
    conf = tmp_path / "etc" / "15" / "main"
    conf.mkdir(parents=True)
    (conf / "pg_hba.conf").write_text("local all postgres peer\n", encoding="utf-8")
    env = {
        "PATH": f"{stubs}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(tmp_path),
        "STUBS": str(stubs),
        "PG_CONF_ROOT": str(tmp_path / "etc"),
        "PG_WAIT_SECONDS": str(wait),
    }
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120
    )
    log = stubs / "log"
    calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return done, [c for c in calls if c.split()[0] in ("pg_ctlcluster", "apt-get")]


def test_a_running_server_that_answers_slowly_is_waited_for_not_restarted(
    tmp_path: Path,
) -> None:
    done, calls = run_ci(tmp_path, "2 2 1 0", "online")
    assert done.returncode == 0, done.stderr
    assert [c for c in calls if not c.endswith(" status")] == []
    assert "running but not accepting connections" in done.stderr
    assert "waiting for PostgreSQL" in done.stderr


def test_a_server_that_is_not_running_is_started_once(tmp_path: Path) -> None:
    done, calls = run_ci(tmp_path, "2", "down")
    assert done.returncode == 0, done.stderr
    assert [c for c in calls if not c.endswith(" status")] == [
        "pg_ctlcluster --skip-systemctl-redirect 15 main start"
    ]
    conf = tmp_path / "etc" / "15" / "main" / "pg_hba.conf"
    assert conf.read_text(encoding="utf-8").startswith("host all all 127.0.0.1/32 trust")


def test_a_server_that_never_answers_is_given_up_on_after_the_bound_untouched(
    tmp_path: Path,
) -> None:
    done, calls = run_ci(tmp_path, "1", "online", wait=4)
    assert done.returncode == 1
    assert "still not accepting connections after" in done.stderr
    assert [c for c in calls if not c.endswith(" status")] == []


def test_a_start_that_fails_is_reported_not_retried_as_a_restart(tmp_path: Path) -> None:
    done, calls = run_ci(tmp_path, "2", "down", start_fails=True)
    assert done.returncode == 1
    assert "did not start" in done.stderr
    assert [c for c in calls if not c.endswith(" status")] == [
        "pg_ctlcluster --skip-systemctl-redirect 15 main start"
    ]

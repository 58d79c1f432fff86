"""Every operator import is bounded: a device, a pipe or a huge file is one line of error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.processes import file_gateway_env, run_cli


@pytest.mark.parametrize(
    "args",
    [
        ["subscribers", "import", "/dev/zero"],  # no line break, ever: csv would read forever
        ["operations", "import", "/dev/zero"],
        ["operations", "import", "/dev/stdin"],  # a pipe from whoever runs it
    ],
)
def test_an_import_from_a_device_is_refused_before_reading(
    args: list[str], database_url: str, tmp_path: Path
) -> None:
    done = run_cli(file_gateway_env(database_url, tmp_path), tmp_path, *args, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "not a regular file" in done.stderr, done.stderr


def test_an_import_larger_than_the_cap_is_refused(tmp_path: Path) -> None:
    from alerts.errors import InvalidInput
    from alerts.gateways.documents import require_import_file

    big = tmp_path / "big.csv"
    big.write_bytes(b"phone,zone\n" + b"x" * 2_000)
    with pytest.raises(InvalidInput, match="larger than 1,000 bytes"):
        require_import_file(big, max_bytes=1_000)
    require_import_file(big, max_bytes=10_000)  # within the cap: nothing to say

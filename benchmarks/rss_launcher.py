"""Run a command and write its own rusage (peak RSS, CPU time) to a JSON file.

    python -I -S rss_launcher.py OUT.json COMMAND [ARG…]

On Linux a child's ``ru_maxrss`` starts at the size of the process that spawned it (exec
keeps the larger of the old and the new peak), so a tool started straight from the
benchmark, itself some 60 MB once it has imported what it needs, can never show a smaller
peak than that. Started from this launcher (Python without site-packages, about 10 MB),
the tool's peak is its own. stdin, stdout and stderr are passed through; the exit code
is the command's.
"""

import json
import os
import sys
from pathlib import Path


def main() -> int:
    out, *command = sys.argv[1:]
    pid = os.posix_spawnp(command[0], command, os.environ)
    _, status, usage = os.wait4(pid, 0)
    with Path(out).open("w", encoding="utf-8") as f:
        json.dump({"max_rss_kib": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime}, f)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())

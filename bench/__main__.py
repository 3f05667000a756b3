"""`python -m bench`: run the benchmark and print its table.

`--package DIR` must take effect before anything imports sidecar_fn or its dependencies
(bench.run and the modules it imports do so at import time), hence the early look at argv.
"""

import sys

from bench.artifact import PackageError, package_arg, refusal, use_package

try:
    use_package(sys.argv[1:])
except PackageError as error:
    print(refusal(package_arg(sys.argv[1:]) or "", error.problems), file=sys.stderr)
    raise SystemExit(2) from None

from bench.run import main

if __name__ == "__main__":
    raise SystemExit(main())

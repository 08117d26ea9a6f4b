"""GET a URL; exit 0 on 2xx (a curl-free readiness command for the plan tests)."""

import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=2) as resp:
    sys.exit(0 if 200 <= resp.status < 300 else 1)

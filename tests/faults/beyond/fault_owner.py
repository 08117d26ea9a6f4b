"""A process that injects one fault and then waits to be killed: the owner in the SIGKILL tests.

    python fault_owner.py TYPE TARGET DURATION PARAMS_JSON
Prints the fault id on stdout once the fault is in place.
"""

import json
import sys
import time

from assay.faults import injector

fault = injector.inject(sys.argv[1], sys.argv[2] or None, duration=sys.argv[3], params=json.loads(sys.argv[4]))
print(fault.id, flush=True)
time.sleep(3600)

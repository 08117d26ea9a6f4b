"""A steady open-model load for the lost-worker tests: 40 iterations/s for 8 s."""

import os

options = {
    "scenarios": {
        "open": {"executor": "constant-arrival-rate", "rate": 40, "timeUnit": "1s", "duration": "8s",
                 "preAllocatedVUs": 4, "maxVUs": 8},
    },
}


async def default(vu):
    await vu.http.get(os.environ["BASE"] + "/")

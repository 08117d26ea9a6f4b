"""A threshold only the whole run crosses: 2 workers at 50 iterations/s each for 8 s can each
reach 400 iterations at most, below the limit of 450; together they pass 450 after ~4.5 s."""

import os

options = {
    "scenarios": {
        "open": {"executor": "constant-arrival-rate", "rate": 100, "timeUnit": "1s", "duration": "8s",
                 "preAllocatedVUs": 4, "maxVUs": 8},
    },
    "thresholds": {"iterations": [{"threshold": "count<450", "abortOnFail": True}]},
}


async def default(vu):
    await vu.http.get(os.environ["BASE"] + "/")

"""k6's executors, one per file, behind `Executor`; `EXECUTORS` maps k6 names to classes."""

from assay.load.executors.base import Executor, ExecutorConfig, Segment
from assay.load.executors.constant_arrival_rate import ConstantArrivalRate
from assay.load.executors.constant_vus import ConstantVUs
from assay.load.executors.per_vu_iterations import PerVUIterations
from assay.load.executors.ramping_arrival_rate import RampingArrivalRate
from assay.load.executors.ramping_vus import RampingVUs
from assay.load.executors.shared_iterations import SharedIterations

EXECUTORS: dict[str, type[Executor]] = {
    cls.name: cls
    for cls in (SharedIterations, PerVUIterations, ConstantVUs, RampingVUs, ConstantArrivalRate, RampingArrivalRate)
}

__all__ = ["EXECUTORS", "Executor", "ExecutorConfig", "Segment"]

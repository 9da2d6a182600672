"""Parameter sweeps: experiment specs, samplers, chunked resumable runs, executors and a results store.

A sweep is described by a TOML spec (:mod:`sim.sweep.spec`), expanded into a
design (:mod:`sim.sweep.design`: grid, Latin hypercube, Saltelli/Sobol or
Morris points), cut into chunks of runs with stable ids and seeds
(:mod:`sim.sweep.plan`), run in-process, in a local process pool or on Dask
(:mod:`sim.sweep.executors`) and written to a results folder
(:mod:`sim.sweep.store`) that :func:`load_results` reads back, verifying every file. See
``docs/sweeps.md``.
"""

from .design import Design, SamplingDesign, build_design, design_names, register_design, unregister_design
from .executors import DaskExecutor, Executor, InProcessExecutor, PoolExecutor, WorkerLost, make_executor
from .folder import FolderError, FolderLocked, ForceRefused
from .runner import ResumeError, SweepPlan, plan_sweep, run_sweep
from .spec import Spec, SpecError, check_spec_file, load_spec, parse_spec
from .store import IntegrityError, ResultsError, SweepResults, SweepWarning, export_csv, load_results

__all__ = [
    "DaskExecutor",
    "Design",
    "Executor",
    "FolderError",
    "FolderLocked",
    "ForceRefused",
    "InProcessExecutor",
    "IntegrityError",
    "PoolExecutor",
    "ResultsError",
    "ResumeError",
    "SamplingDesign",
    "Spec",
    "SpecError",
    "SweepPlan",
    "SweepResults",
    "SweepWarning",
    "WorkerLost",
    "build_design",
    "check_spec_file",
    "design_names",
    "export_csv",
    "load_results",
    "load_spec",
    "make_executor",
    "parse_spec",
    "plan_sweep",
    "register_design",
    "run_sweep",
    "unregister_design",
]

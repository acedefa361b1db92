"""The trainability map: train a grid of networks over two config axes, on Dask distributed.

`GridSpec` (axes from ``FIELD=LO:HI:N[:log]`` by `parse_axis`) defines the cells; `run_cell`
trains one; `connect` + `run_grid` run them all and write a `GridFile`; `meanfield.predict`
gives the mean-field columns and `fit_rows` the best c of the boundary L = c·ξ_c.
"""
from .cell import RESULT_COLUMNS, run_cell
from .meanfield import DEFAULT_C, BoundaryFit, Prediction, predict
from .output import COLUMNS, METRICS, GridFile, fit_rows, is_trained, read_rows
from .run import INSTALL_HINT, GridOutcome, connect, default_workers, require_dask, run_grid
from .spec import Axis, Cell, GridError, GridSpec, apply_axis, parse_axis

__all__ = ["Axis", "BoundaryFit", "COLUMNS", "Cell", "DEFAULT_C", "GridError", "GridFile", "GridOutcome",
           "GridSpec", "INSTALL_HINT", "METRICS", "Prediction", "RESULT_COLUMNS", "apply_axis", "connect",
           "default_workers", "fit_rows", "is_trained", "parse_axis", "predict", "read_rows", "require_dask",
           "run_cell", "run_grid"]

import sys

from .cli import main

if __name__ == "__main__":  # a Dask worker process started by `grid` imports this module again
    sys.exit(main())

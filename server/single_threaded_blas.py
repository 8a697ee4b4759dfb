"""Import first (before NumPy loads): BLAS libraries use one thread each in this server.

The server's matrix products are tiny (8×9 by 9×10,000 at most, for a 100×100 heatmap), and
it already runs one trainer thread per core. OpenBLAS splits such a product over its own
threads anyway, which then spin: measured here, the same wall time for twice the CPU, a core
taken from the other sessions. A value the user sets wins.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

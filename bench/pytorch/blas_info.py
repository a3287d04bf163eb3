"""Which BLAS this PyTorch process really runs on, read from the process itself.

Debian's python3-torch links `libblas.so.3`, which the alternatives system resolves to the
reference BLAS (`libblas3`, netlib: ~6 GFLOP/s on a 1024 matmul) or to OpenBLAS
(`libopenblas0-pthread`: ~40x that). `torch.__config__.show()` only says how torch was built
(`BLAS_INFO=generic` for both), so the shared objects mapped into this process
(/proc/self/maps) are the evidence, after one matmul has loaded them. A reference-BLAS figure
is labelled so and is not a comparison anyone should quote.
"""

import ctypes
import re

import torch


def _mapped_blas():
    """Paths of the BLAS / LAPACK / MKL shared objects mapped into this process."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if re.search(r"blas|lapack|mkl|blis", line)}
    except OSError:
        return []
    return sorted(p for p in paths if p.startswith("/"))


def _openblas(paths):
    """(config string, thread count) from the loaded OpenBLAS, or (None, None)."""
    for p in paths:
        if "openblas" not in p:
            continue
        try:
            lib = ctypes.CDLL(p)
            lib.openblas_get_config.restype = ctypes.c_char_p
            return lib.openblas_get_config().decode(), int(lib.openblas_get_num_threads())
        except (OSError, AttributeError):
            continue
    return None, None


def blas_info():
    """A dict: `blas` (a label: 'OpenBLAS 0.3.21 ...', 'MKL', or 'reference BLAS (netlib
    libblas3)'), `reference` (True when only the reference BLAS is loaded), `blas_threads`
    (OpenBLAS's own thread count, when it is OpenBLAS), `blas_libraries` (the mapped paths),
    `torch_threads`, `torch_build_blas` (BLAS_INFO from torch's build settings)."""
    a = torch.ones(64, 64)
    (a @ a).sum().item()  # loads the BLAS if it is loaded lazily
    paths = _mapped_blas()
    config, threads = _openblas(paths)
    if config is not None:
        label = config
    elif any("mkl" in p for p in paths):
        label = "MKL"
    elif any("blis" in p for p in paths):
        label = "BLIS"
    elif paths:
        label = "reference BLAS (netlib libblas3)"
    else:
        label = "unknown (no BLAS library mapped)"
    build = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    return {
        "blas": label,
        "reference": label.startswith("reference"),
        "blas_threads": threads,
        "blas_libraries": paths,
        "torch_threads": torch.get_num_threads(),
        "torch_build_blas": build.group(1) if build else None,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(blas_info(), indent=1))

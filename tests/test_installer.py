"""What the installer leaves out stays unused: build_installer.spec drops torch's CUDA
linear-algebra library (libtorch_cuda_linalg.so and cuSOLVER, loaded only on the first matrix
decomposition of a CUDA tensor), so the app's code must never decompose a matrix. A scan of the
code's syntax trees: a new call fails here, not on a user's GPU. (The bundle itself is tested by
.ci/smoke_bundle.py.)"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for folder in ("engine", "gui") for p in (ROOT / folder).rglob("*.py")]

# torch functions and Tensor methods served by libtorch_cuda_linalg.so on a CUDA tensor
DECOMPOSITIONS = {
    "inverse", "pinverse", "svd", "svd_lowrank", "pca_lowrank", "lobpcg", "cholesky", "cholesky_solve",
    "cholesky_inverse", "lstsq", "det", "logdet", "slogdet", "qr", "geqrf", "orgqr", "ormqr",
    "triangular_solve", "lu", "lu_solve", "lu_unpack", "eig", "matrix_rank", "orthogonal_",
}
LINALG_ALLOWED = {"norm", "vector_norm", "matrix_norm", "vecdot", "cross", "multi_dot", "matmul", "diagonal"}


def decompositions(source: str, filename: str = "<source>") -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
        if node.attr in DECOMPOSITIONS or (owner == "linalg" and node.attr not in LINALG_ALLOWED):
            found.append(f"{filename}:{node.lineno}: .{node.attr}")
    return found


def test_the_scan_finds_decompositions():
    code = "torch.linalg.solve(a, b)\nx.inverse()\ntorch.linalg.eigh(m)\nnn.init.orthogonal_(w)\n"
    assert len(decompositions(code)) == 4
    assert decompositions("torch.linalg.vector_norm(x)\nx.norm()\na @ b\ntorch.stft(x, 400)\n") == []


def test_the_app_never_decomposes_a_matrix():
    found = [hit for path in SOURCES for hit in decompositions(path.read_text(), str(path.relative_to(ROOT)))]
    assert not found, ("the installer leaves out torch's CUDA linear algebra (build_installer.spec, DROP): "
                       "put it back or avoid these calls:\n" + "\n".join(found))

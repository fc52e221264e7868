"""ONNX export with a parity check, and runners for PyTorch and ONNX Runtime.

Names load lazily: ``export.runtime`` (the ONNX Runtime runner) works without PyTorch, while
the exporter needs it.
"""

__all__ = ["OnnxRunner", "ParityReport", "Runner", "TorchRunner", "check_parity", "export_onnx",
           "read_weights_digest"]


def __getattr__(name: str):
    if name in ("OnnxRunner", "Runner", "TorchRunner"):
        from . import runtime

        return getattr(runtime, name)
    if name in __all__:
        from . import onnx_export

        return getattr(onnx_export, name)
    raise AttributeError(name)

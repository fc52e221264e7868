"""ONNX export with a parity check, and runners for PyTorch and ONNX Runtime."""

from .onnx_export import ParityReport, check_parity, export_onnx, read_weights_digest
from .runtime import OnnxRunner, Runner, TorchRunner

__all__ = ["OnnxRunner", "ParityReport", "Runner", "TorchRunner", "check_parity", "export_onnx",
           "read_weights_digest"]

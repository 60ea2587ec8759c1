"""Checking: the numerical gradient check of any layer or model, ours or the reader's own
(book 1's ``self.W``/``self.dW``, book 2's ``params``/``grads`` lists), with a doctor that
names the mistake; ``zerokara check`` on a reader's file."""

from zerokara.check.build import build
from zerokara.check.files import FileResult, check_file
from zerokara.check.functions import FunctionCheck, check_derivative
from zerokara.check.gradcheck import LayerCodeError, gradcheck
from zerokara.check.layer import LayerResult, check_layer
from zerokara.check.loss_functions import check_function
from zerokara.check.report import GradEntry, GradReport

__all__ = [
    "gradcheck",
    "GradReport",
    "GradEntry",
    "LayerCodeError",
    "check_layer",
    "check_file",
    "LayerResult",
    "FileResult",
    "build",
    "check_derivative",
    "check_function",
    "FunctionCheck",
]

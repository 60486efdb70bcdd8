"""ONNX nodes for a model's chain of input transforms (``hepmlp.transforms``), float32.

Each step maps the ``[N, d]`` tensor named by its input to a new one:

- ``standardise``: ``(x - mean) / std`` (Sub, Div); ``normalise`` the same
  with ``centre`` and ``half_range``;
- ``decorrelate`` and ``pca``: ``x M + offset`` (MatMul, Add);
- ``log``: ``Where(mask, Log(Max(x + offset, floor)), x)``;
- ``gaussianise``, exported precisely: the piecewise-linear CDF and the
  inverse normal CDF, with nothing left out.  With knots ``x_k, u_k``
  (k = 0 … K-1), widths ``Δ_k = x_(k+1) - x_k`` and slopes
  ``s_k = (u_(k+1) - u_k) / Δ_k`` (0 where ``Δ_k = 0``)::

      low  = u_0       + Σ_k s_k min(relu(x - x_k),     Δ_k)     = F(x)
      high = 1 - u_K-1 + Σ_k s_k min(relu(x_(k+1) - x), Δ_k)     = 1 - F(x)

  (a ``[N, d, K-1]`` intermediate; each of the two sums is accurate in
  float32 near its own small end).  With ``p = min(low, high) ≤ 1/2``,
  ``y = ± √2 erf⁻¹(1 - 2p)`` (− where low < high), and erf⁻¹ from
  M. Giles' single-precision approximation ("Approximating the erfinv
  function", GPU Computing Gems Jade, 2011): ``w = -log((1 - t)(1 + t))``,
  here ``-log(4 p (1 - p))`` so that no ``1 - 2p`` cancels, then
  ``erf⁻¹(t) = t P(w - 2.5)`` for ``w < 5`` and ``t Q(√w - 3)`` otherwise,
  ``P``, ``Q`` polynomials of degree 8.  ``test_io_onnx`` checks the scores
  against hepmlp's (``scipy.special.ndtri``) to 1e-5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from onnx import helper, numpy_helper

from hepmlp.transforms import FittedChain, FittedTransform

# Giles (2011), single precision: coefficients of P (w < 5) and Q (w >= 5), highest power first.
GILES_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                 -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
GILES_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
              -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


class _Graph:
    """Collects nodes and float32 initializers; every name gets the step's prefix."""

    def __init__(self, prefix: str, nodes: list, initializers: list) -> None:
        self.prefix, self.nodes, self.initializers = prefix, nodes, initializers

    def constant(self, name: str, value) -> str:
        array = np.asarray(value)
        array = array.astype(np.float32) if array.dtype.kind == "f" else array
        full = self.prefix + name
        self.initializers.append(numpy_helper.from_array(array, full))
        return full

    def op(self, op: str, inputs: Sequence[str], name: str, **attributes) -> str:
        full = self.prefix + name
        self.nodes.append(helper.make_node(op, list(inputs), [full], name=full, **attributes))
        return full


def _polynomial(graph: _Graph, w: str, coefficients: Sequence[float], name: str) -> str:
    """Horner: ``(((c_0 w + c_1) w + c_2) ...)``."""
    value = graph.constant(f"{name}_c0", np.float32(coefficients[0]))
    for index, coefficient in enumerate(coefficients[1:], start=1):
        value = graph.op("Mul", [value, w], f"{name}_m{index}")
        value = graph.op("Add", [value, graph.constant(f"{name}_c{index}", np.float32(coefficient))], f"{name}_a{index}")
    return value


def _gaussianise(graph: _Graph, x: str, arrays: dict[str, np.ndarray]) -> str:
    x_knots, u_knots = arrays["x_knots"], arrays["u_knots"]
    widths = np.diff(x_knots, axis=1)
    slopes = np.divide(np.diff(u_knots, axis=1), widths, out=np.zeros_like(widths), where=widths > 0)
    column = graph.op("Unsqueeze", [x, graph.constant("axis2", np.array([2], dtype=np.int64))], "x3")   # [N, d, 1]
    width, slope = graph.constant("widths", widths), graph.constant("slopes", slopes)
    sum_axis = graph.constant("sum_axis", np.array([2], dtype=np.int64))

    def ramp_sum(first: str, second: str, name: str) -> str:
        part = graph.op("Min", [graph.op("Relu", [graph.op("Sub", [first, second], f"{name}_d")], f"{name}_r"),
                                width], f"{name}_min")
        return graph.op("ReduceSum", [graph.op("Mul", [part, slope], f"{name}_s"), sum_axis], f"{name}_sum",
                        keepdims=0)

    low = graph.op("Add", [ramp_sum(column, graph.constant("lower", x_knots[:, :-1]), "low"),
                           graph.constant("u_first", u_knots[:, 0])], "cdf_low")
    high = graph.op("Add", [ramp_sum(graph.constant("upper", x_knots[:, 1:]), column, "high"),
                            graph.constant("u_last_complement", 1.0 - u_knots[:, -1])], "cdf_high")
    below = graph.op("Less", [low, high], "below_median")
    sign = graph.op("Where", [below, graph.constant("minus", np.float32(-1.0)), graph.constant("plus", np.float32(1.0))],
                    "sign")
    p = graph.op("Min", [low, high], "tail")
    one = graph.constant("one", np.float32(1.0))
    four_p_q = graph.op("Mul", [graph.op("Mul", [p, graph.constant("four", np.float32(4.0))], "four_p"),
                                graph.op("Sub", [one, p], "q")], "four_p_q")
    w = graph.op("Neg", [graph.op("Log", [four_p_q], "log_w")], "w")
    central = _polynomial(graph, graph.op("Sub", [w, graph.constant("w_centre", np.float32(2.5))], "w_central"),
                          GILES_CENTRAL, "central")
    tail = _polynomial(graph, graph.op("Sub", [graph.op("Sqrt", [w], "sqrt_w"), graph.constant("three", np.float32(3.0))],
                                       "w_tail"), GILES_TAIL, "tail")
    factor = graph.op("Where", [graph.op("Less", [w, graph.constant("five", np.float32(5.0))], "is_central"),
                                central, tail], "erfinv_factor")
    t = graph.op("Sub", [one, graph.op("Mul", [p, graph.constant("two", np.float32(2.0))], "two_p")], "t")
    erfinv = graph.op("Mul", [factor, t], "erfinv")
    return graph.op("Mul", [graph.op("Mul", [erfinv, graph.constant("sqrt2", np.float32(np.sqrt(2.0)))], "abs_y"),
                            sign], "y")


def _step(graph: _Graph, x: str, step: FittedTransform) -> str:
    arrays = step.arrays
    if step.name in ("standardise", "normalise"):
        shift, scale = ("mean", "std") if step.name == "standardise" else ("centre", "half_range")
        centred = graph.op("Sub", [x, graph.constant(shift, arrays[shift])], "centred")
        return graph.op("Div", [centred, graph.constant(scale, arrays[scale])], "y")
    if step.name in ("decorrelate", "pca"):
        product = graph.op("MatMul", [x, graph.constant("matrix", arrays["matrix"])], "product")
        return graph.op("Add", [product, graph.constant("offset", arrays["offset"])], "y")
    if step.name == "log":
        shifted = graph.op("Add", [x, graph.constant("offset", arrays["offset"])], "shifted")
        logged = graph.op("Log", [graph.op("Max", [shifted, graph.constant("floor", arrays["floor"])], "clamped")],
                          "logged")
        return graph.op("Where", [graph.constant("mask", arrays["mask"] > 0), logged, x], "y")
    if step.name == "gaussianise":
        return _gaussianise(graph, x, arrays)
    raise ValueError(f"no ONNX export for transform {step.name!r}")


def transform_nodes(chain: FittedChain, x: str, nodes: list, initializers: list, prefix: str = "") -> str:
    """Append the chain's nodes and initializers; return the name of the transformed ``[N, d]`` tensor.

    ``prefix`` starts every name (several networks in one graph: ``fold0_``, ...).
    """
    for index, step in enumerate(chain.steps):
        x = _step(_Graph(f"{prefix}transform{index}_{step.name}_", nodes, initializers), x, step)
    return x

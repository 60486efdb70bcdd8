"""Export a trained model to ONNX, its input transforms included.

The graph takes the raw features, exactly as ``hepmlp apply`` computes them
from the model's expressions, and returns the score:

    x  = T(features)                                   the model's transform chain
    h1 = g(x  W0 + b0), ..., score = o(h_L W_L + b_L)  Gemm + activation per layer

``T`` is by default ``(features - mean) / std`` (Sub, Div); linear
transforms are MatMul + Add, and ``gaussianise`` is exported precisely
(see ``onnx_transforms``).

with ``g`` the hidden activation (Sigmoid, Tanh, Relu, Identity) and ``o`` the
output unit (Sigmoid, Softmax over axis 1, Identity).  Input ``features``:
float32 ``[N, n_features]`` (``N`` dynamic); output ``score``: float32
``[N, n_outputs]``.  The feature names, expressions and classes are stored in
the model's ``metadata_props`` (as JSON), so a C++ user can check its inputs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hepmlp import __version__
from hepmlp.errors import UserError
from hepmlp.io.model_files import TrainedModel, load_trained
from hepmlp.io.onnx_transforms import transform_nodes
from hepmlp.outputs import atomic_outputs

OPSET = 17
IR_VERSION = 8  # the IR of opset 17 (ONNX 1.12): readable by onnxruntime >= 1.12
ACTIVATION_OPS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "identity": "Identity"}
OUTPUT_OPS = {**ACTIVATION_OPS, "softmax": "Softmax"}


def _node(op: str, inputs: list[str], output: str, **attributes) -> onnx.NodeProto:
    if op == "Softmax":
        attributes.setdefault("axis", 1)
    return helper.make_node(op, inputs, [output], name=output, **attributes)


def build_graph(model: TrainedModel) -> onnx.ModelProto:
    """The ONNX model (opset 17) computing ``model.score`` in float32 as ``[N, n_outputs]``."""
    # the MLP checked both names when load_trained built it
    hidden_activation, output_unit = model.mlp.activation, model.mlp.output
    arrays = model.mlp.to_arrays()
    n_layers = len(model.mlp.layer_sizes) - 1
    initializers: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []
    current = transform_nodes(model.transforms, "features", nodes, initializers)
    for layer in range(n_layers):
        weight, bias = f"W{layer}", f"b{layer}"
        initializers.append(numpy_helper.from_array(np.asarray(arrays[weight], dtype=np.float32), weight))
        initializers.append(numpy_helper.from_array(np.asarray(arrays[bias], dtype=np.float32), bias))
        is_last = layer == n_layers - 1
        pre_activation = f"layer{layer}_linear"
        nodes.append(_node("Gemm", [current, weight, bias], pre_activation))
        op = OUTPUT_OPS[output_unit] if is_last else ACTIVATION_OPS[hidden_activation]
        current = "score" if is_last else f"layer{layer + 1}_input"
        nodes.append(_node(op, [pre_activation], current))
    n_features = len(model.features)
    graph = helper.make_graph(
        nodes,
        f"hepmlp_{model.name}",
        inputs=[helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n_features])],
        outputs=[helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", model.n_outputs])],
        initializer=initializers,
    )
    onnx_model = helper.make_model(
        graph,
        producer_name="hepmlp",
        producer_version=__version__,
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string="hepmlp MLP: raw features in, score out (input transforms "
                   f"{', '.join(model.transforms.names)} included)",
    )
    onnx_model.ir_version = IR_VERSION
    metadata = {
        "features": json.dumps(model.features),
        "expressions": json.dumps(model.expressions),
        "classes": json.dumps(model.classes),
        "task": model.task,
        "transforms": json.dumps(model.transforms.names),
        "output": output_unit,
        "hepmlp_version": __version__,
    }
    helper.set_model_props(onnx_model, metadata)
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


def export_onnx(model_dir: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Write the model in ``model_dir`` as ONNX to ``output`` (all-or-nothing)."""
    onnx_model = build_graph(load_trained(model_dir))
    output = Path(output)
    if output.is_dir():
        raise UserError(f"--output {output} is a folder; give a file name such as {output / 'model.onnx'}")
    with atomic_outputs(output) as (temporary,):
        temporary.write_bytes(onnx_model.SerializeToString())
    return output

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

The k fold models of a kfold classifier (``hepmlp.io.fold_models``) become
one graph with a second input ``fold`` (int64 ``[N]``, the event's
``fold_by mod k``): it computes every fold model's score ``s_f`` (each behind
its own transforms) and returns

    score = Σ_f a_f s_f,   a_f = [fold == f] + [fold < 0] / k,

i.e. the score of the fold model that never trained on the event, or for
``fold = -1`` (events that took no part in training) the mean of the k
models: the rule of ``hepmlp apply``, in one file and one session.  The
``metadata_props`` add ``folds`` (k) and ``fold_by`` (the expression).
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
from hepmlp.io.fold_models import FoldedModel, load_classifier
from hepmlp.io.model_files import TrainedModel
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


def _network_nodes(model: TrainedModel, prefix: str, output: str, nodes: list, initializers: list) -> None:
    """One network behind its transforms: ``features`` -> ``output``; every name starts with ``prefix``."""
    # the MLP checked both names when load_trained built it
    hidden_activation, output_unit = model.mlp.activation, model.mlp.output
    arrays = model.mlp.to_arrays()
    n_layers = len(model.mlp.layer_sizes) - 1
    current = transform_nodes(model.transforms, "features", nodes, initializers, prefix=prefix)
    for layer in range(n_layers):
        weight, bias = f"{prefix}W{layer}", f"{prefix}b{layer}"
        initializers.append(numpy_helper.from_array(np.asarray(arrays[f"W{layer}"], dtype=np.float32), weight))
        initializers.append(numpy_helper.from_array(np.asarray(arrays[f"b{layer}"], dtype=np.float32), bias))
        is_last = layer == n_layers - 1
        pre_activation = f"{prefix}layer{layer}_linear"
        nodes.append(_node("Gemm", [current, weight, bias], pre_activation))
        op = OUTPUT_OPS[output_unit] if is_last else ACTIVATION_OPS[hidden_activation]
        current = output if is_last else f"{prefix}layer{layer + 1}_input"
        nodes.append(_node(op, [pre_activation], current))


def _fold_selection(k: int, nodes: list, initializers: list) -> None:
    """``score = Σ_f a_f s_f`` with ``a_f = [fold == f] + [fold < 0] / k`` (``s_f``: ``fold{f}_score``)."""
    initializers += [numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"),
                     numpy_helper.from_array(np.array(1.0 / k, dtype=np.float32), "one_over_k"),
                     numpy_helper.from_array(np.array([1], dtype=np.int64), "column_axis")]
    nodes += [_node("Less", ["fold", "zero"], "unseen"),
              helper.make_node("Cast", ["unseen"], ["unseen_float"], name="unseen_float", to=TensorProto.FLOAT),
              _node("Mul", ["unseen_float", "one_over_k"], "mean_share")]
    terms = []
    for fold in range(k):
        initializers.append(numpy_helper.from_array(np.array(fold, dtype=np.int64), f"fold{fold}_index"))
        nodes += [
            _node("Equal", ["fold", f"fold{fold}_index"], f"fold{fold}_own"),
            helper.make_node("Cast", [f"fold{fold}_own"], [f"fold{fold}_own_float"], name=f"fold{fold}_own_float",
                             to=TensorProto.FLOAT),
            _node("Add", [f"fold{fold}_own_float", "mean_share"], f"fold{fold}_share"),
            _node("Unsqueeze", [f"fold{fold}_share", "column_axis"], f"fold{fold}_share_column"),
            _node("Mul", [f"fold{fold}_score", f"fold{fold}_share_column"], f"fold{fold}_term"),
        ]
        terms.append(f"fold{fold}_term")
    nodes.append(_node("Sum", terms, "score"))


def build_graph(model: TrainedModel | FoldedModel) -> onnx.ModelProto:
    """The ONNX model (opset 17) computing ``model.score`` in float32 as ``[N, n_outputs]``."""
    initializers: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []
    n_features = len(model.features)
    inputs = [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n_features])]
    if isinstance(model, FoldedModel):
        for fold, fold_model in enumerate(model.models):
            _network_nodes(fold_model, f"fold{fold}_", f"fold{fold}_score", nodes, initializers)
        _fold_selection(model.k, nodes, initializers)
        inputs.append(helper.make_tensor_value_info("fold", TensorProto.INT64, ["N"]))
        first = model.models[0]
    else:
        _network_nodes(model, "", "score", nodes, initializers)
        first = model
    output_unit = first.mlp.output
    graph = helper.make_graph(
        nodes,
        f"hepmlp_{model.name}",
        inputs=inputs,
        outputs=[helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", model.n_outputs])],
        initializer=initializers,
    )
    onnx_model = helper.make_model(
        graph,
        producer_name="hepmlp",
        producer_version=__version__,
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string="hepmlp MLP: raw features in, score out (input transforms "
                   f"{', '.join(first.transforms.names)} included)"
                   + (f"; {model.k} fold models, input fold picks one (-1: their mean)"
                      if isinstance(model, FoldedModel) else ""),
    )
    onnx_model.ir_version = IR_VERSION
    metadata = {
        "features": json.dumps(model.features),
        "expressions": json.dumps(model.expressions),
        "classes": json.dumps(model.classes),
        "task": model.task,
        "transforms": json.dumps(first.transforms.names),
        "output": output_unit,
        "hepmlp_version": __version__,
    }
    if isinstance(model, FoldedModel):
        metadata.update(folds=str(model.k), fold_by=model.fold_by,
                        fold_rule="input fold = fold_by mod folds: score of the fold model that never trained on "
                                  "the event; fold = -1: mean of the fold models")
    helper.set_model_props(onnx_model, metadata)
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


def export_onnx(model_dir: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Write the model in ``model_dir`` as ONNX to ``output`` (all-or-nothing)."""
    onnx_model = build_graph(load_classifier(model_dir))
    output = Path(output)
    if output.is_dir():
        raise UserError(f"--output {output} is a folder; give a file name such as {output / 'model.onnx'}")
    with atomic_outputs(output) as (temporary,):
        temporary.write_bytes(onnx_model.SerializeToString())
    return output

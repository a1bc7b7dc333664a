"""Inference-only graph rewrite: BatchNorm folded into the convolution before it."""

from __future__ import annotations

import copy

from torch import fx, nn
from torch.fx.experimental.optimization import matches_module_pattern, replace_node_module
from torch.nn.utils.fusion import fuse_conv_bn_eval

PATTERNS = ((nn.Conv2d, nn.BatchNorm2d), (nn.ConvTranspose2d, nn.BatchNorm2d))


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """A copy of `net` (eval mode) with every (transposed) Conv -> BatchNorm pair merged.

    Same outputs to float rounding (LinkNet logits within 4e-6), one op fewer per layer:
    measured +19-20 % bf16 inference for LinkNet and +8 % for U-Net on this project's CPU.
    torch's own `fuse` skips transposed convolutions (five of LinkNet's BatchNorms).
    Not for training: the running statistics become constants.
    """
    traced = fx.symbolic_trace(copy.deepcopy(net).eval())
    modules = dict(traced.named_modules())
    graph = traced.graph
    for pattern in PATTERNS:
        for node in list(graph.nodes):
            if not matches_module_pattern(pattern, node, modules):
                continue
            conv_node = node.args[0]
            bn = modules[node.target]
            if len(conv_node.users) > 1 or not bn.track_running_stats:
                continue  # the conv's raw output is used elsewhere, or BN has no statistics
            conv = modules[conv_node.target]
            folded = fuse_conv_bn_eval(conv, bn, transpose=pattern[0] is nn.ConvTranspose2d)
            replace_node_module(conv_node, modules, folded)
            node.replace_all_uses_with(conv_node)
            graph.erase_node(node)
    return fx.GraphModule(traced, graph)

"""``zerokara explain``: trace a layer's forward and backward into a graph of array
operations, show each local gradient rule, and check the gradients numerically.

    from zerokara.explain import trace_layer
    g = trace_layer(layer, (x,)).graph
    g.forward.find("Repeat")          # the bias broadcast over the batch
    g.backward.grad("b")              # the Sum(axis=0) that became db
"""

from zerokara.explain.graph import Graph, Node
from zerokara.explain.run import Explanation, build, explain
from zerokara.explain.trace import Trace, run_plain, trace_layer

__all__ = ["Graph", "Node", "Trace", "trace_layer", "run_plain", "Explanation", "explain", "build"]

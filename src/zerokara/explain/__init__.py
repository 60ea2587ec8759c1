"""``zerokara explain``: trace a layer's forward and backward into a graph of array
operations, show each local gradient rule, and check the gradients numerically.

    from zerokara.explain import trace_layer
    g = trace_layer(layer, (x,)).graph
    g.forward.find("Repeat")          # the bias broadcast over the batch
    g.backward.grad("b")              # the Sum(axis=0) that became db

The modules, each importing only those above it:

* ``graph``        the nodes and the two phases (no numpy tricks)
* ``memory``       which node wrote each element of each buffer
* ``traced_array`` the ndarray subclass that reports its operations to the active tracer
* ``recorder``     the graph being written: reads, broadcasts as Repeat, stores
* ``ops``          numpy ufuncs and array functions as nodes
* ``tracing``      the Tracer (recorder + ops) and the switch that makes it active
* ``params``       a layer's parameters in any style (Module dicts, book 2 lists, book 1 self.W)
* ``layer_trace``  a layer's forward and backward run under it: ``trace_layer``, ``Trace``
* ``rules``        each forward node's local gradient rule; the Repeat/Sum pairs
* ``explanation``  the built-in or user example (built from the books' argument names, as
                   ``zerokara check`` builds it), traced and gradient-checked: ``explain``
* ``render``, ``draw``  the text and the picture
"""

from zerokara.explain.explanation import Explanation, build, explain
from zerokara.explain.graph import Graph, Node
from zerokara.explain.layer_trace import Trace, run_plain, trace_layer

__all__ = ["Graph", "Node", "Trace", "trace_layer", "run_plain", "Explanation", "explain", "build"]

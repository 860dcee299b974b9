"""The run stage of a `Program`: the jitted step, the feed check, its arguments and results.

`Program` (program.py) builds the state this reads in its constructor: the names of the feeds,
variables and updates in their fixed orders, the getters that pick them out, and whether the
step takes a run counter or the learning phase. This half only calls the step; nothing here
changes what a program is, only how one run is made.
"""
from __future__ import annotations

import contextlib
from typing import Any

import jax
import numpy as np

from .device import running
from .errors import KGraphError
from .fastpath import dims_match, exact_call, is_device_array, outputs
from .feeds import check_feeds, learning_phase_value
from .lower import make_function
from .passes import paused_gc
from .types import np_dtype


class Runner:
    """Program's run methods (a mixin: `Program.__init__` sets the attributes they read)."""

    _exact = None  # run's fast path (fastpath.exact_call), made with the jitted step when `_fast`

    def _function(self):
        """The jitted step, flat: (updated variables..., other variables..., feeds...[, run
        counter][, learning phase]) → (outputs..., new values of the updated variables...), in
        fixed name orders.

        The updated variables' buffers are donated, so XLA writes their new values in
        place; the program keeps them on the device between runs. Flat positional
        arguments and results rather than nested tuples or dicts, and no run counter
        unless a random op needs one, keep the per-call dispatch cost down: in a
        training loop it is paid every step.
        """
        if self._jitted is None:
            g = self._graph
            fn = make_function([n for _, n in g.outputs], [n for _, n in g.updates],
                               self._feeds_needed, self._variables_needed)
            seed, donated, fixed, feed_names = self.seed, self._donated, self._fixed, self._feed_names
            first_fixed, first_feed = len(donated), len(donated) + len(fixed)
            counted, phased = self._draws_random, self._reads_phase
            last_feed = first_feed + len(feed_names)

            def run(*args):  # `kgraph lower` shows jit_run
                variables = dict(zip(donated, args))
                variables.update(zip(fixed, args[first_fixed:]))
                rng = jax.random.fold_in(jax.random.PRNGKey(seed), args[last_feed]) if counted else None
                feeds = dict(zip(feed_names, args[first_feed:last_feed]))
                outs, new_values = fn(variables, feeds, rng, args[-1] if phased else False)
                return outs + new_values

            donate = tuple(range(len(donated)))
            if self._layout is None:
                self._jitted = jax.jit(run, donate_argnums=donate)
            else:
                self._jitted = self._layout.jit(run, donated + fixed + feed_names, self._scalars,
                                                len(g.outputs), self._update_names, donate)
            if self._fast is not None:
                self._exact = exact_call(self._jitted, self._fast, self._numbered_outputs)
        return self._jitted

    def _first_step(self, arrays: dict[str, np.ndarray]) -> Any:
        """`_function()`, made by the first run, and compiled here for the variables' types:
        while their initial values are still computing (consteval.InitialValues.start), XLA
        compiles both at once, and the run then finds the step compiled. Python's GC is off
        meanwhile, as it is for the passes (tracing allocates the jaxpr's many long-lived
        objects). One device only: on a mesh or a chosen device the arguments' placement is
        part of what is compiled, and the run compiles the step itself."""
        step = self._function()
        if self._device is None and self._layout is None:
            with paused_gc():
                step.trace(*self._abstract_arguments(arrays)).lower().compile()
        return step

    def _abstract_arguments(self, arrays: dict[str, np.ndarray]) -> tuple:
        """What `_arguments` gives, each variable and run scalar as its type instead of its value."""
        types = {n.attr("name"): jax.ShapeDtypeStruct(n.shape, np_dtype(n.dtype))
                 for n in self._variables_needed}
        scalars = (np.uint32,) * self._draws_random + (np.bool_,) * self._reads_phase
        return (self._get_donated(types) + self._get_fixed(types) + self._get_feeds(arrays)
                + tuple(jax.ShapeDtypeStruct((), t) for t in scalars))

    def check_feeds(self, feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        """The feeds as arrays of their placeholders' dtypes; a FeedError names what is wrong."""
        return dict(self._checked(feeds))

    def _checked(self, feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        """check_feeds, but `feeds` itself when it passes the fast path (run's own kwargs)."""
        specs = self._feed_specs
        if specs is not None and len(feeds) == len(specs):
            # Exactly the needed feeds, each a NumPy or JAX array that already has its
            # placeholder's dtype and a shape that fits: the full check would only copy a JAX
            # array to the host, and the step would copy it back.
            for name, dtype, shape in specs:
                value = feeds.get(name)
                if (not (value.__class__ is np.ndarray or is_device_array(value)) or value.dtype != dtype
                        or (value.shape != shape and not dims_match(value.shape, shape))):
                    break
            else:
                return feeds
        return self._check_feeds(feeds)

    def _check_feeds(self, feeds: dict[str, Any]) -> dict[str, np.ndarray]:
        return check_feeds(feeds, self._source_graph.placeholders, self._feed_names, self.module.leaf_spans)

    def arguments(self, feeds: dict[str, Any], training: Any = None) -> tuple:
        """The positional arguments the next run passes to `_function()` (for tools that
        lower or time it as run() would call it): the updated variables, the other
        variables, the feeds, the run counter if a random op draws from it, and the
        learning phase if the program reads it."""
        return self._arguments(self.check_feeds(feeds), training)

    def _arguments(self, arrays: dict[str, np.ndarray], training: Any = None) -> tuple:
        args = self._get_feeds(arrays)
        if self._variables_needed:
            values = self._values
            args = self._get_donated(values) + self._get_fixed(values) + args
        if self._draws_random:
            args += (np.uint32(self._runs),)
        if self._reads_phase:
            args += (np.bool_(self.training if training is None else training),)
        return self._layout.place_scalars(args, self._scalars) if self._layout else args

    def run(self, training: Any = None, to_numpy: bool = True, **feeds: Any) -> dict[str, np.ndarray]:
        """Run once and apply the updates: a dict from output name to numpy array, in output order.

        Outputs and updates are all computed from the variables' values at the start of the run.
        `training` sets the learning phase (default `self.training`, False unless set).
        `to_numpy=False` returns the outputs as JAX arrays on the device, without waiting for them.
        """
        exact = self._exact
        if exact is not None and training is None:
            # A stateless program fed exactly its signature: the jitted step directly
            # (fastpath.exact_call). Anything else (another class, dtype or shape, a missing
            # or extra feed) gets None and the full check below. It keeps no run count: a
            # stateless program's is never read (it keys random draws and the export
            # warning, which need state).
            result = exact(feeds, to_numpy)
            if result is not None:
                return result
        arrays = self._checked(feeds)
        if training is not None:
            training = learning_phase_value(training)
        if self._plain:  # the common case, on every call: no context to enter
            outs = self.execute(arrays, training)
        else:
            with self.running():
                outs = self.execute(arrays, training)
        return outputs(outs, self._numbered_outputs, to_numpy)

    __call__ = run


    @property
    def jitted(self):
        """The compiled step itself, for the lowest per-call cost with device arrays.

        For a program without variables, random draws or `learning_phase()` it is
        `f(*feeds) -> (outputs...)`: the feeds positionally in `feed_names` order (NumPy or
        JAX arrays of the placeholders' dtypes; unchecked) and the outputs as JAX arrays in
        `outputs` order. Any other program keeps state between runs, so its step takes more
        (see `arguments`); use `run(..., to_numpy=False)` for those.
        """
        if not self._stateless:
            raise KGraphError("Program.jitted is the step of a program without variables, random "
                              "draws or learning_phase(); use run(..., to_numpy=False)")
        return self._function()

    @property
    def feed_names(self) -> list[str]:
        """The placeholders a run needs, in the order `jitted` takes them."""
        return list(self._feed_names)

    def running(self) -> contextlib.AbstractContextManager:
        """The context every run happens in: JAX's 64-bit mode if the program has a 64-bit
        value (see `needs_x64`), and the chosen device (device.running)."""
        return running(self._x64, self._device)

    def execute(self, arrays: dict[str, np.ndarray], training: bool | None = None) -> tuple:
        """One run on checked feeds (see `check_feeds`), inside `running()`; `training` is
        the learning phase (None: `self.training`).

        Returns the outputs as device arrays, without waiting for them: a training loop
        calls this per step and copies values to the host only when it reports them.
        """
        step = self._jitted or self._first_step(arrays)
        if self._layout is not None:
            arrays = self._layout.place_feeds(arrays)
        if self._stateless:
            results = step(*self._get_feeds(arrays))
            self._runs += 1
            return results
        results = step(*self._arguments(arrays, training))
        self._runs += 1
        if not self._update_names:
            return results
        n = len(self._output_names)
        self._values.update(zip(self._update_names, results[n:]))
        return results[:n]

    def wait(self) -> None:
        """Wait until the runs in flight have finished (execute does not wait)."""
        jax.block_until_ready(list(self._values.values()))

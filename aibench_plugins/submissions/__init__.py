"""Host side only: API-integrated submissions. A submission whose zip holds ``endpoint.json`` is a
model endpoint the participant hosts, or a serving image the Docker executor starts; the prediction
step is then aibench's gateway, which streams the phase's hidden test inputs to the model in batches
and writes the predictions where the scoring program expects a result submission's, so the original
scoring program runs unchanged.

Not API: the public names are :mod:`aibench_plugins`'s ``__all__``.
"""
